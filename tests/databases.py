"""One migration per run, not one per pytest-xdist worker.

Each worker needs its own test database. Made the usual way, every worker runs all the migrations at once: on two
cores three workers took about 35 s each before the first test. Here the first worker to take the lock migrates a
template database (`<test name>_template`) once per run, and each worker copies it with
`CREATE DATABASE … TEMPLATE …`, which takes about a second. PostgreSQL only; otherwise (SQLite, one process,
--reuse-db) pytest-django's own setup runs.
"""

import fcntl
from contextlib import contextmanager
from pathlib import Path

from tests import emptying


@contextmanager
def _locked(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield handle
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _template_for_this_run(connection, template: str, run: str, var_dir: Path) -> None:
    """Migrate `template` unless a worker of this run already has (the lock file holds the run's id)."""
    with _locked(var_dir / f"{template}.lock") as handle:
        handle.seek(0)
        if handle.read().strip() == run:
            return
        test_settings = connection.settings_dict["TEST"]
        worker_name = test_settings["NAME"]
        test_settings["NAME"] = template
        try:
            original = connection.settings_dict["NAME"]
            connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False, keepdb=False)
            emptying.remember_seed(connection.alias)  # the migrations' rows, written back after each emptying
            connection.close()  # PostgreSQL copies a template only when no one is connected to it
            connection.settings_dict["NAME"] = original
        finally:
            test_settings["NAME"] = worker_name
        handle.seek(0)
        handle.truncate()
        handle.write(run)
        handle.flush()


def create_from_template(connection, *, run: str, var_dir: Path) -> str:
    """Make this worker's test database a copy of the run's migrated template; returns the original NAME, for
    `destroy_test_db`."""
    from django.conf import settings

    worker_name = connection.settings_dict["TEST"]["NAME"]
    template = f"{worker_name.rsplit('_gw', 1)[0]}_template"
    original = connection.settings_dict["NAME"]
    _template_for_this_run(connection, template, run, var_dir)
    quote = connection.ops.quote_name
    with connection.creation._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {quote(worker_name)}")
        cursor.execute(f"CREATE DATABASE {quote(worker_name)} TEMPLATE {quote(template)}")
    connection.close()
    settings.DATABASES[connection.alias]["NAME"] = worker_name
    connection.settings_dict["NAME"] = worker_name
    connection.ensure_connection()
    return original
