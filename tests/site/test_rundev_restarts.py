"""`make run` keeps going when one of its processes dies: rundev starts it again, with a growing pause, and says so."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from volunteer_platform.management.commands.rundev import Restarts

ROOT = Path(__file__).resolve().parents[2]

# rundev with its three commands replaced by small programs: "worker" dies at once every time, the others run on.
DRIVER = """
import sys
import django
django.setup()
from volunteer_platform.management.commands import rundev
stay = [sys.executable, "-c", "import time; time.sleep(600)"]
crash = [sys.executable, "-c", "import sys; sys.exit(3)"]
rundev.commands = lambda host, port: {"web": stay, "worker": crash, "beat": stay}
rundev.Command().run_from_argv(["manage.py", "rundev"])
"""


def test_the_pause_doubles_with_crashes_in_a_row_and_starts_again_after_a_steady_run():
    restarts = Restarts()
    assert [restarts.pause_after_crash(ran_for=0.5) for _ in range(8)] == [1, 2, 4, 8, 16, 32, 60, 60]
    assert restarts.pause_after_crash(ran_for=Restarts.STEADY_SECONDS) == 1
    assert restarts.in_a_row == 1


def test_a_crashed_process_is_started_again_and_the_others_keep_running(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "volunteer_platform.settings",
        "DEBUG": "true",
        "VAR_DIR": str(tmp_path),
    }
    log = tmp_path / "rundev.log"
    with open(log, "w") as output:
        driver = subprocess.Popen(
            [sys.executable, "-c", DRIVER],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        # Crashes at once, then after pauses of 1 s and 2 s: wait (boundedly) for the second restart.
        deadline = time.monotonic() + 60
        while "(crash 3 in a row)" not in log.read_text() and time.monotonic() < deadline:
            assert driver.poll() is None, log.read_text()
            time.sleep(0.2)
        assert driver.poll() is None, log.read_text()
    finally:
        os.killpg(driver.pid, signal.SIGINT)
        driver.wait(timeout=30)
    text = log.read_text()
    assert "worker exited with code 3; starting it again in 1 s (crash 1 in a row)." in text
    assert "worker exited with code 3; starting it again in 2 s (crash 2 in a row)." in text
    assert "worker exited with code 3; starting it again in 4 s (crash 3 in a row)." in text
    assert text.count("worker started again") >= 2
    assert "web exited" not in text and "beat exited" not in text
    assert "Stopped web, worker and beat." in text
    assert driver.returncode == 0
