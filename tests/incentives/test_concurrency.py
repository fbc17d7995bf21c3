"""Real threads against PostgreSQL: the balance never goes negative, stock never below zero, one entry per key."""

import threading
from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from incentives import services
from incentives.models import CatalogueItem, LedgerEntry, PointsBalance, Redemption
from tests.incentives.conftest import fund, make_item
from tests.members.factories import MemberFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

THREADS = 20


def run_at_once(target, count: int = THREADS) -> Counter:
    """Start `count` threads that call target(i) at the same moment; count what each returned or raised."""
    barrier = threading.Barrier(count)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker(i):
        try:
            barrier.wait()
            target(i)
            outcome = "ok"
        except ValidationError:
            outcome = "refused"
        except Exception as exc:  # noqa: BLE001 - any other error is reported by the assertion
            outcome = f"error: {exc!r}"
        finally:
            connection.close()
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return Counter(outcomes)


def test_twenty_threads_spending_a_balance_that_covers_five(org_tree):
    member = MemberFactory(organization=org_tree.branch_a)
    fund(member, 50)

    outcomes = run_at_once(
        lambda i: services.spend(member=member, points=10, idempotency_key=f"spend:{i}", note="并发")
    )

    assert outcomes == Counter(ok=5, refused=15)
    balance = PointsBalance.objects.get(member=member)
    assert balance.balance == 0
    assert LedgerEntry.objects.filter(member=member, kind=LedgerEntry.Kind.SPEND).count() == 5
    assert min(LedgerEntry.objects.filter(member=member).values_list("balance_after", flat=True)) >= 0


def test_twenty_members_redeeming_an_item_with_stock_three(org_tree):
    members = MemberFactory.create_batch(THREADS, organization=org_tree.branch_a)
    for member in members:
        fund(member, 100)
    item = make_item(name="最后三张体检券", points_cost=60, stock=3, per_member_limit=1)

    outcomes = run_at_once(lambda i: services.redemption_request(member=members[i], item=item))

    assert outcomes == Counter(ok=3, refused=17)
    item.refresh_from_db()
    assert item.stock == 0
    assert Redemption.objects.filter(item=item).count() == 3
    balances = sorted(PointsBalance.objects.filter(member__in=members).values_list("balance", flat=True))
    assert balances == [40] * 3 + [100] * 17  # only the three winners paid
    assert CatalogueItem.objects.filter(stock__lt=0).count() == 0


def test_one_member_double_clicking_redeem_gets_one_redemption(org_tree):
    member = MemberFactory(organization=org_tree.branch_a)
    fund(member, 500)
    item = make_item(points_cost=50, stock=10, per_member_limit=None)

    outcomes = run_at_once(
        lambda i: services.redemption_request(member=member, item=item, idempotency_key="same-form"), count=8
    )

    assert outcomes == Counter(ok=8)
    assert Redemption.objects.filter(member=member).count() == 1
    assert PointsBalance.objects.get(member=member).balance == 450
    item.refresh_from_db()
    assert item.stock == 9


def test_the_same_award_from_many_threads_is_written_once(org_tree):
    member = MemberFactory(organization=org_tree.branch_a)

    outcomes = run_at_once(
        lambda i: services.award(
            member=member, rule="service_hour", quantity=3, source_ref="activity:9", idempotency_key="activity:9:m"
        ),
        count=10,
    )

    assert outcomes == Counter(ok=10)
    assert LedgerEntry.objects.filter(member=member).count() == 1
    assert PointsBalance.objects.get(member=member).balance == 30
