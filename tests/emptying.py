"""Emptying the database after a transactional test (live_server, browser, threads, a real worker) without Django's
`flush`.

`flush` truncates every table and then writes the content types and permissions back (post_migrate). On PostgreSQL a
TRUNCATE makes new files for each table and each of its indexes: about 0.5 s for our ~95 tables on an idle machine
and over 1 s with the suite running beside it, after each of some hundred tests. Here only the tables that hold rows
are emptied, by DELETE (the foreign keys Django makes are DEFERRABLE INITIALLY DEFERRED, so the order does not
matter inside one transaction); a table whose trigger refuses DELETE (the append-only ledger) is truncated. Content
types and permissions stay, which is what post_migrate would have written back.

Unlike `flush`, the rows the migrations wrote (the default wish and project categories, the points rules, the beat
schedules) are written back too: each test starts from the migrated database, whichever tests ran before it on its
worker. After `flush` they were gone, so a test that read them passed or failed by the order of the tests (seen when
the scheduler began to send the slow transactional tests first). `remember_seed` copies them into the schema
`test_seed` once, right after the migrations.
"""

from django.db import connections, transaction
from django.test import TransactionTestCase

# Rows post_migrate writes back after `flush`: left as they are.
KEPT = frozenset({"django_content_type", "auth_permission"})
SEED_SCHEMA = "test_seed"


def _model_tables(connection) -> list[str]:
    return sorted(set(connection.introspection.django_table_names(only_existing=True, include_views=False)) - KEPT)


def remember_seed(alias: str = "default") -> list[str]:
    """Copy the rows the migrations wrote into the schema `test_seed` (once per database: a kept database keeps the
    copy it was made with); returns the tables copied."""
    connection = connections[alias]
    if connection.vendor != "postgresql":
        return []
    quote = connection.ops.quote_name
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", [SEED_SCHEMA])
        if cursor.fetchone() is not None:
            return _seeded(cursor)
        tables = _model_tables(connection)
        cursor.execute(" UNION ALL ".join(f"SELECT %s WHERE EXISTS (SELECT 1 FROM {quote(t)})" for t in tables), tables)
        filled = [row[0] for row in cursor.fetchall()]
        cursor.execute(f"CREATE SCHEMA {SEED_SCHEMA}")
        for table in filled:
            cursor.execute(f"CREATE TABLE {SEED_SCHEMA}.{quote(table)} AS TABLE public.{quote(table)}")
    return filled


def _seeded(cursor) -> list[str]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s ORDER BY tablename", [SEED_SCHEMA])
    return [row[0] for row in cursor.fetchall()]


def empty_database(alias: str = "default") -> list[str]:
    """Empty every table of the Django models that holds a row, and write back the migrations' rows (`remember_seed`);
    returns the tables emptied that the migrations left empty."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    tables = _model_tables(connection)
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(f"SELECT %s WHERE EXISTS (SELECT 1 FROM {quote(t)})" for t in tables), tables)
        filled = [row[0] for row in cursor.fetchall()]
        seeded = _seeded(cursor)
        filled = sorted(set(filled) | set(seeded))
        if not filled:
            return []
        cursor.execute(
            "SELECT DISTINCT tgrelid::regclass::text FROM pg_trigger WHERE NOT tgisinternal AND tgrelid::regclass::text"
            " = ANY(%s)",
            [filled],
        )
        guarded = {row[0] for row in cursor.fetchall()}
        for table in filled:
            if table not in guarded:
                cursor.execute(f"DELETE FROM {quote(table)}")
        if guarded:
            cursor.execute(f"TRUNCATE {', '.join(quote(t) for t in sorted(guarded))} CASCADE")
        for table in seeded:
            cursor.execute(f"INSERT INTO {quote(table)} SELECT * FROM {SEED_SCHEMA}.{quote(table)}")
    return [table for table in filled if table not in seeded]


_flush_teardown = TransactionTestCase._fixture_teardown


def _fixture_teardown(self):
    names = list(self._databases_names(include_mirrors=False))
    plain = not self.reset_sequences and not self.serialized_rollback and self.available_apps is None
    if not plain or any(connections[name].vendor != "postgresql" for name in names):
        return _flush_teardown(self)
    for name in names:
        empty_database(name)
    return None


def install() -> None:
    TransactionTestCase._fixture_teardown = _fixture_teardown


def uninstall() -> None:
    TransactionTestCase._fixture_teardown = _flush_teardown
