"""The harness itself: a test needing a missing service is skipped with a reason, or fails with REQUIRE_SERVICES=1."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = "tests/harness/samples/needs_redis.py"


def run_sample(*args: str, **env_overrides) -> subprocess.CompletedProcess:
    drop = ("REQUIRE_SERVICES", "PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-m", "pytest", *args, SAMPLE],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_missing_service_is_skipped_and_summarised():
    result = run_sample(REDIS_URL="redis://127.0.0.1:1/0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout
    assert "SKIPPED 1 test(s) marked 'redis': Redis at REDIS_URL does not answer" in result.stdout


def test_missing_service_fails_when_required():
    result = run_sample(REDIS_URL="redis://127.0.0.1:1/0", REQUIRE_SERVICES="1")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "REQUIRE_SERVICES=1 but redis is unavailable" in result.stdout
    assert "1 passed, 1 error" in result.stdout  # a failure in setup is reported as an error


def test_the_summary_holds_in_a_parallel_run():
    """`make test` runs the suite with pytest-xdist: the skips happen in the workers, the summary in the controller."""
    result = run_sample("-n", "2", REDIS_URL="redis://127.0.0.1:1/0")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout
    assert "SKIPPED 1 test(s) marked 'redis': Redis at REDIS_URL does not answer" in result.stdout
