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
    driver = subprocess.Popen(
        [sys.executable, "-c", DRIVER],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        time.sleep(5)  # crashes at 0 s, +1 s, +2 s (pauses 1, 2, 4): three crashes, two restarts seen
        assert driver.poll() is None, driver.stderr.read()
    finally:
        os.killpg(driver.pid, signal.SIGINT)
        out, err = driver.communicate(timeout=30)
    assert "worker exited with code 3; starting it again in 1 s (crash 1 in a row)." in err
    assert "worker exited with code 3; starting it again in 2 s (crash 2 in a row)." in err
    assert "worker started again" in err
    assert "web exited" not in err and "beat exited" not in err
    assert "Stopped web, worker and beat." in out
    assert driver.returncode == 0
