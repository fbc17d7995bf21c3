"""After a transactional test the database is as `flush` leaves it: every table of the models empty, the content
types and permissions kept (tests/emptying.py)."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.contrib.contenttypes.models import ContentType
from django.db import connection
from django.utils import timezone

from incentives.models import LedgerEntry
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


def test_every_table_with_rows_is_emptied_and_the_content_types_stay(member_a, secretary_a):
    add_hours(member_a, Decimal("2"), day=timezone.localdate() - timedelta(days=1), verifier=secretary_a)
    assert LedgerEntry.objects.exists()  # the append-only table, which refuses DELETE
    kept = (ContentType.objects.count(), Permission.objects.count())
    filled = {table for table, n in _counts().items() if n}

    emptied = emptying.empty_database()

    assert set(emptied) == filled - emptying.KEPT
    assert {"incentives_ledgerentry", "members_member", "auth_user"} <= set(emptied)
    assert {table for table, n in _counts().items() if n} == emptying.KEPT
    assert (ContentType.objects.count(), Permission.objects.count()) == kept
    assert emptying.empty_database() == []
