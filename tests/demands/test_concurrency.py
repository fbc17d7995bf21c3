"""Claims under real concurrency: threads with their own PostgreSQL connections press "claim" at once."""

import threading
from collections import Counter

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from demands import services
from demands.models import MicroWish, WishEvent
from notifications.models import Notification
from tests.demands.factories import wish_category, wish_in_state
from tests.members.factories import MemberFactory

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(functions) -> Counter:
    """Start every function at the same moment in its own thread; count the outcomes ("ok" or the message)."""
    barrier = threading.Barrier(len(functions))
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def run(function):
        try:
            barrier.wait()
            function()
            outcome = "ok"
        except ValidationError as exc:
            outcome = exc.messages[0]
        except Exception as exc:  # noqa: BLE001 - any other failure is a finding, reported by name
            outcome = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=run, args=(f,)) for f in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_twenty_members_claim_one_wish_at_once(org_tree, secretary_a):
    wish_category()
    wish = wish_in_state("published", org_tree.community_a, secretary_a)
    members = MemberFactory.create_batch(20, organization=org_tree.branch_a)

    outcomes = run_together([lambda m=m: services.wish_claim(wish=wish, member=m) for m in members])

    assert outcomes == Counter({"ok": 1, "该心愿已被其他党员认领。": 19})
    wish.refresh_from_db()
    assert wish.state == MicroWish.State.CLAIMED and wish.claimed_by in members
    assert WishEvent.objects.filter(wish=wish, action="claimed").count() == 1
    assert Notification.objects.filter(template="demands_claimed").count() == 1


def test_claim_and_withdraw_race_ends_in_one_of_them(org_tree, secretary_a, member_a):
    wish_category()
    wish = wish_in_state("published", org_tree.community_a, secretary_a)

    outcomes = run_together(
        [lambda: services.wish_claim(wish=wish, member=member_a), lambda: services.wish_withdraw(wish=wish)]
    )

    assert outcomes["ok"] == 1 and sum(outcomes.values()) == 2
    wish.refresh_from_db()
    assert wish.state in (MicroWish.State.CLAIMED, MicroWish.State.WITHDRAWN)
    assert (wish.claimed_by is not None) == (wish.state == MicroWish.State.CLAIMED)


def test_one_member_claims_many_wishes_at_once_within_the_limit(org_tree, secretary_a, member_a, settings):
    settings.WISH_MAX_OPEN_CLAIMS = 3
    wish_category()
    wishes = [wish_in_state("published", org_tree.community_a, secretary_a) for _i in range(8)]

    outcomes = run_together([lambda w=w: services.wish_claim(wish=w, member=member_a) for w in wishes])

    assert outcomes["ok"] == 3
    assert MicroWish.objects.filter(claimed_by=member_a).count() == 3


def test_double_rating_through_one_link_confirms_once(org_tree, secretary_a, member_a):
    from tests.demands.factories import feedback_token

    wish_category()
    wish = wish_in_state("fulfilled", org_tree.community_a, secretary_a, member_a)
    token = feedback_token(wish)

    outcomes = run_together([lambda r=r: services.wish_rate(token=token, rating=r) for r in (5, 4, 3, 2)])

    assert outcomes["ok"] == 1
    assert WishEvent.objects.filter(wish=wish, action="confirmed").count() == 1


def test_secretaries_confirming_at_once_record_and_award_once(org_tree, secretary_a, member_a):
    from incentives.models import LedgerEntry
    from members.models import ServiceRecord
    from tests.personas import make_secretary

    wish_category()
    east = make_secretary(org_tree.east, "east_secretary", "钱书记", home=org_tree.branch_a)
    wish = wish_in_state("confirmed", org_tree.community_a, secretary_a, member_a)

    outcomes = run_together(
        [
            lambda: services.wish_confirm_service(wish=wish, actor=secretary_a),
            lambda: services.wish_confirm_service(wish=wish, actor=east),
        ]
    )

    assert outcomes["ok"] == 1
    assert ServiceRecord.objects.filter(source="wish").count() == 1
    assert LedgerEntry.objects.filter(member=member_a).count() == 3  # the record's hours, the wish, the rating
