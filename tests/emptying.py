"""Emptying the database after a transactional test (live_server, browser, threads, a real worker) without Django's
`flush`.

`flush` truncates every table and then writes the content types and permissions back (post_migrate). On PostgreSQL a
TRUNCATE makes new files for each table and each of its indexes: about 0.5 s for our ~95 tables on an idle machine
and over 1 s with the suite running beside it, after each of some hundred tests. Here only the tables that hold rows
are emptied, by DELETE (the foreign keys Django makes are DEFERRABLE INITIALLY DEFERRED, so the order does not
matter inside one transaction); a table whose trigger refuses DELETE (the append-only ledger) is truncated. Content
types and permissions stay, which is what post_migrate would have written back. What a test sees afterwards is the
same as after `flush`.
"""

from django.db import connections, transaction
from django.test import TransactionTestCase

# Rows post_migrate writes back after `flush`: left as they are.
KEPT = frozenset({"django_content_type", "auth_permission"})


def empty_database(alias: str = "default") -> list[str]:
    """Empty every table of the Django models that holds a row; returns the tables emptied."""
    connection = connections[alias]
    quote = connection.ops.quote_name
    tables = sorted(set(connection.introspection.django_table_names(only_existing=True, include_views=False)) - KEPT)
    with transaction.atomic(using=alias), connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(f"SELECT %s WHERE EXISTS (SELECT 1 FROM {quote(t)})" for t in tables), tables)
        filled = [row[0] for row in cursor.fetchall()]
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
    return filled


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
