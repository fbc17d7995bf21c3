"""After a transactional test the database is as the migrations left it: every table of the models empty but for the
content types, the permissions and the rows the migrations wrote, which are as they were (tests/emptying.py)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone

from incentives.models import LedgerEntry, Rule
from tests import emptying
from tests.incentives.conftest import add_hours

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def _counts() -> dict[str, int]:
    quote = connection.ops.quote_name
    counts = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.django_table_names(only_existing=True, include_views=False):
            cursor.execute(f"SELECT count(*) FROM {quote(table)}")
            counts[table] = cursor.fetchone()[0]
    return counts


def _rows(table: str) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)} ORDER BY 1")
        return cursor.fetchall()


def test_every_table_with_rows_is_emptied_and_the_content_types_and_the_migrations_rows_stay(member_a, secretary_a):
    seeded = emptying.remember_seed()
    assert {"incentives_rule", "demands_wishcategory", "projects_projectcategory"} <= set(seeded)
    migrated = {table: _rows(table) for table in seeded}
    add_hours(member_a, Decimal("2"), day=timezone.localdate() - timedelta(days=1), verifier=secretary_a)
    assert LedgerEntry.objects.exists()  # the append-only table, which refuses DELETE
    Rule.objects.filter(code="service_hour").update(points=99)  # a test changes a rule the migrations wrote
    kept = (ContentType.objects.count(), Permission.objects.count())
    filled = {table for table, n in _counts().items() if n}

    emptied = emptying.empty_database()

    assert set(emptied) == filled - emptying.KEPT - set(seeded)
    assert {"incentives_ledgerentry", "members_member", "auth_user"} <= set(emptied)
    assert {table for table, n in _counts().items() if n} == emptying.KEPT | set(seeded)
    assert {table: _rows(table) for table in seeded} == migrated
    assert (ContentType.objects.count(), Permission.objects.count()) == kept
    assert emptying.empty_database() == []
