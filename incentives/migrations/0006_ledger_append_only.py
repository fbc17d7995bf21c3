"""The ledger is append-only in the database too: a trigger refuses any UPDATE (and, on PostgreSQL, any DELETE) of
a ledger entry, whatever code or console issues it. PostgreSQL's TRUNCATE (test database flushes) is not affected.
SQLite's flush deletes rows one by one, so there the trigger refuses updates only."""

from django.db import migrations

POSTGRES_FORWARD = """
CREATE FUNCTION incentives_ledger_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'incentives_ledgerentry is append-only: % refused', TG_OP;
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER incentives_ledger_append_only
    BEFORE UPDATE OR DELETE ON incentives_ledgerentry
    FOR EACH ROW EXECUTE FUNCTION incentives_ledger_append_only();
"""
POSTGRES_BACKWARD = """
DROP TRIGGER IF EXISTS incentives_ledger_append_only ON incentives_ledgerentry;
DROP FUNCTION IF EXISTS incentives_ledger_append_only();
"""
SQLITE_FORWARD = """
CREATE TRIGGER incentives_ledger_append_only BEFORE UPDATE ON incentives_ledgerentry
BEGIN
    SELECT RAISE(ABORT, 'incentives_ledgerentry is append-only: UPDATE refused');
END;
"""
SQLITE_BACKWARD = "DROP TRIGGER IF EXISTS incentives_ledger_append_only;"


def forward(apps, schema_editor):
    sql = {"postgresql": POSTGRES_FORWARD, "sqlite": SQLITE_FORWARD}.get(schema_editor.connection.vendor)
    if sql:
        schema_editor.execute(sql, params=None)  # None: the SQL is sent as it is (its % is not a placeholder)


def backward(apps, schema_editor):
    sql = {"postgresql": POSTGRES_BACKWARD, "sqlite": SQLITE_BACKWARD}.get(schema_editor.connection.vendor)
    if sql:
        schema_editor.execute(sql, params=None)  # None: the SQL is sent as it is (its % is not a placeholder)


class Migration(migrations.Migration):
    dependencies = [("incentives", "0005_commendations")]

    operations = [migrations.RunPython(forward, backward)]
