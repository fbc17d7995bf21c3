"""The points ledger: award, spend, reverse, adjust — append-only, idempotent, never below zero."""

from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction

from incentives import services
from incentives.models import LedgerEntry, PointsBalance, Rule
from tests.incentives.conftest import fund

pytestmark = pytest.mark.django_db


def balance(member) -> PointsBalance:
    return PointsBalance.objects.get(member=member)


def test_the_migration_seeds_the_default_rules():
    rules = {rule.code: rule for rule in Rule.objects.all()}
    assert set(rules) == set(Rule.Code.values)
    assert rules["service_hour"].points == 10
    assert rules["service_hour"].cap_per_source == 100
    assert rules["service_hour"].leader_multiplier == Decimal("1.5")
    assert rules["wish_fulfilled"].points == 20
    assert (rules["resident_rating"].points, rules["resident_rating"].min_quantity) == (5, 4)
    assert rules["training_hour"].points == 5
    assert rules["commendation"].points == 100


def test_award_writes_one_entry_and_moves_the_balance(member_a, secretary_a):
    entry = services.award(
        member=member_a,
        rule="service_hour",
        quantity=Decimal("2.5"),
        idempotency_key="activity:1:member:1",
        source_ref="activity:1",
        actor=secretary_a,
        note="助老服务",
    )
    assert (entry.points, entry.earned_points, entry.balance_after, entry.kind) == (25, 25, 25, "award")
    assert entry.rule.code == "service_hour" and entry.actor == secretary_a and entry.source_ref == "activity:1"
    assert (balance(member_a).balance, balance(member_a).earned_total) == (25, 25)


def test_points_round_half_up_with_the_multiplier(member_a):
    leader = services.leader_multiplier("service_hour")
    entry = services.award(
        member=member_a, rule="service_hour", quantity=Decimal("0.7"), multiplier=leader, idempotency_key="k1"
    )
    assert entry.points == 11  # 10 × 0.7 × 1.5 = 10.5 → 11
    assert entry.multiplier == Decimal("1.5")


def test_the_same_idempotency_key_twice_gives_one_entry(member_a):
    first = services.award(member=member_a, rule="wish_fulfilled", idempotency_key="wish:7:fulfilled")
    again = services.award(member=member_a, rule="wish_fulfilled", idempotency_key="wish:7:fulfilled")
    assert again.pk == first.pk
    assert LedgerEntry.objects.filter(member=member_a).count() == 1
    assert balance(member_a).balance == 20


def test_a_key_used_for_another_member_is_a_programming_error(member_a, member_b):
    services.award(member=member_a, rule="wish_fulfilled", idempotency_key="wish:8")
    with pytest.raises(ValueError, match="another member"):
        services.award(member=member_b, rule="wish_fulfilled", idempotency_key="wish:8")


def test_the_cap_applies_per_member_and_source(member_a, member_b):
    first = services.award(
        member=member_a, rule="service_hour", quantity=8, source_ref="activity:3", idempotency_key="a3:1"
    )
    second = services.award(
        member=member_a, rule="service_hour", quantity=4, source_ref="activity:3", idempotency_key="a3:2"
    )
    third = services.award(
        member=member_a, rule="service_hour", quantity=1, source_ref="activity:3", idempotency_key="a3:3"
    )
    other_activity = services.award(
        member=member_a, rule="service_hour", quantity=4, source_ref="activity:4", idempotency_key="a4:1"
    )
    other_member = services.award(
        member=member_b, rule="service_hour", quantity=12, source_ref="activity:3", idempotency_key="a3:b"
    )
    assert (first.points, second.points, third) == (80, 20, None)  # capped at 100 for activity 3
    assert other_activity.points == 40
    assert other_member.points == 100
    assert balance(member_a).balance == 140


def test_a_reversal_frees_the_cap_again(member_a, secretary_a):
    entry = services.award(
        member=member_a, rule="service_hour", quantity=10, source_ref="activity:5", idempotency_key="a5:1"
    )
    services.reverse(entry=entry, actor=secretary_a, reason="时长登记错误")
    corrected = services.award(
        member=member_a, rule="service_hour", quantity=6, source_ref="activity:5", idempotency_key="a5:2"
    )
    assert corrected.points == 60


def test_resident_ratings_below_the_minimum_earn_nothing(member_a):
    assert services.award(member=member_a, rule="resident_rating", quantity=3, idempotency_key="r:1") is None
    assert services.award(member=member_a, rule="resident_rating", quantity=5, idempotency_key="r:2").points == 25


def test_an_inactive_rule_awards_nothing(member_a, platform_admin):
    rule = Rule.objects.get(code="training_hour")
    services.rule_update(
        rule=rule,
        actor=platform_admin,
        points=rule.points,
        cap_per_source=None,
        leader_multiplier=Decimal(1),
        min_quantity=None,
        active=False,
    )
    assert services.award(member=member_a, rule="training_hour", quantity=3, idempotency_key="t:1") is None
    assert not LedgerEntry.objects.filter(member=member_a).exists()


def test_only_a_platform_admin_changes_a_rule(secretary_a):
    rule = Rule.objects.get(code="wish_fulfilled")
    with pytest.raises(PermissionDenied):
        services.rule_update(
            rule=rule,
            actor=secretary_a,
            points=999,
            cap_per_source=None,
            leader_multiplier=Decimal(1),
            min_quantity=None,
            active=True,
        )
    rule.refresh_from_db()
    assert rule.points == 20


def test_an_unknown_rule_or_a_bad_quantity_is_refused(member_a):
    with pytest.raises(ValueError):
        services.award(member=member_a, rule="birthday", idempotency_key="x")
    with pytest.raises(ValueError):
        services.award(member=member_a, rule="service_hour", quantity=0, idempotency_key="y")


def test_spend_takes_points_and_refuses_more_than_the_balance(member_a):
    fund(member_a, 50)
    entry = services.spend(member=member_a, points=30, idempotency_key="s:1", note="理发")
    assert (entry.points, entry.earned_points, entry.balance_after) == (-30, 0, 20)
    with pytest.raises(ValidationError) as excinfo:
        services.spend(member=member_a, points=21, idempotency_key="s:2")
    assert "积分不足" in excinfo.value.messages[0]
    assert balance(member_a).balance == 20
    assert balance(member_a).earned_total == 50  # spending never lowers what was earned
    assert services.spend(member=member_a, points=30, idempotency_key="s:1").pk == entry.pk


def test_reverse_appends_the_opposite_entry_once(member_a, secretary_a):
    entry = fund(member_a, 40)
    reversal = services.reverse(entry=entry, actor=secretary_a, reason="重复登记")
    assert (reversal.kind, reversal.points, reversal.earned_points, reversal.reverses_id) == (
        "reversal",
        -40,
        -40,
        entry.pk,
    )
    assert reversal.actor == secretary_a and reversal.note == "重复登记"
    assert services.reverse(entry=entry, actor=secretary_a, reason="再点一次").pk == reversal.pk
    assert (balance(member_a).balance, balance(member_a).earned_total) == (0, 0)
    entry.refresh_from_db()
    assert entry.points == 40  # the original entry is untouched
    with pytest.raises(ValidationError):
        services.reverse(entry=reversal, actor=secretary_a, reason="冲正的冲正")
    with pytest.raises(ValidationError):
        services.reverse(entry=fund(member_a, 10), actor=secretary_a, reason="  ")


def test_points_already_spent_cannot_be_reversed(member_a, secretary_a):
    entry = fund(member_a, 40)
    services.spend(member=member_a, points=30, idempotency_key="s:3")
    with pytest.raises(ValidationError, match="余额不足"):
        services.reverse(entry=entry, actor=secretary_a, reason="时长作废")
    assert balance(member_a).balance == 10


def test_adjust_is_attributed_needs_a_reason_and_stays_in_scope(member_a, member_b, secretary_a):
    entry = services.adjust(member=member_a, points=15, actor=secretary_a, reason="补录活动积分")
    assert (entry.kind, entry.points, entry.actor, entry.note) == ("adjustment", 15, secretary_a, "补录活动积分")
    assert entry.rule.code == "manual"
    with pytest.raises(ValidationError):
        services.adjust(member=member_a, points=5, actor=secretary_a, reason="")
    with pytest.raises(PermissionDenied):
        services.adjust(member=member_b, points=5, actor=secretary_a, reason="跨支部")
    with pytest.raises(ValidationError):
        services.adjust(member=member_a, points=-16, actor=secretary_a, reason="扣多了")
    assert balance(member_a).balance == 15
    assert not LedgerEntry.objects.filter(member=member_b).exists()


def test_nobody_adjusts_their_own_points(secretary_a):
    with pytest.raises(PermissionDenied):
        services.adjust(member=secretary_a.member, points=100, actor=secretary_a, reason="自己加分")


def test_adjust_with_the_same_form_token_writes_once(member_a, secretary_a):
    first = services.adjust(member=member_a, points=5, actor=secretary_a, reason="补录", idempotency_key="adjust:t1")
    again = services.adjust(member=member_a, points=5, actor=secretary_a, reason="补录", idempotency_key="adjust:t1")
    assert first.pk == again.pk and balance(member_a).balance == 5


def test_entries_are_append_only_in_python(member_a):
    entry = fund(member_a, 10)
    entry.points = 1000
    with pytest.raises(TypeError):
        entry.save()
    with pytest.raises(TypeError):
        entry.delete()
    with pytest.raises(TypeError):
        LedgerEntry.objects.filter(pk=entry.pk).update(points=1000)
    with pytest.raises(TypeError):
        LedgerEntry.objects.filter(pk=entry.pk).delete()


def test_entries_are_append_only_in_the_database(member_a):
    entry = fund(member_a, 10)
    with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE incentives_ledgerentry SET points = 1000 WHERE id = %s", [entry.pk])
    if connection.vendor == "postgresql":
        with pytest.raises(Exception, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("DELETE FROM incentives_ledgerentry WHERE id = %s", [entry.pk])
    assert LedgerEntry.objects.get(pk=entry.pk).points == 10


def test_the_database_refuses_a_negative_balance(member_a):
    fund(member_a, 10)
    with pytest.raises(IntegrityError), transaction.atomic():
        PointsBalance.objects.filter(member=member_a).update(balance=-1)


def test_points_spent_before_a_void_are_owed_and_taken_from_the_next_points(member_a, secretary_a):
    """A record's points were spent before the record was voided: the balance stops at 0, the rest is owed and the
    next points pay it back first (a 追回 entry) — balance = Σ ledger ≥ 0 throughout."""
    from datetime import timedelta

    from django.utils import timezone

    from incentives.models import CatalogueItem, PointsBalance, Redemption
    from members import services as member_services
    from tests.incentives.conftest import add_hours

    record = add_hours(member_a, 3, day=timezone.localdate() - timedelta(days=2), verifier=secretary_a)  # 30 points
    item = services.catalogue_item_create(name="理发", kind=CatalogueItem.Kind.SERVICE, points_cost=25, stock=5)
    services.redemption_request(member=member_a, item=item)
    member_services.service_record_void(record=record, actor=secretary_a, reason="重复录入")

    balance = PointsBalance.objects.get(member=member_a)
    assert (balance.balance, balance.earned_total, balance.debt) == (0, 0, 25)
    reversal = LedgerEntry.objects.get(kind="reversal")
    assert (reversal.points, reversal.earned_points) == (-5, -30) and "待以后获得的积分追回" in reversal.note

    add_hours(member_a, 1, day=timezone.localdate() - timedelta(days=1), verifier=secretary_a)  # 10 points
    balance.refresh_from_db()
    assert (balance.balance, balance.earned_total, balance.debt) == (0, 10, 15)
    assert LedgerEntry.objects.get(kind="recovery").points == -10

    services.redemption_cancel(redemption=Redemption.objects.get(), actor=secretary_a, reason="不需要了")  # +25 back
    balance.refresh_from_db()
    assert (balance.balance, balance.earned_total, balance.debt) == (10, 10, 0)
    assert sum(LedgerEntry.objects.filter(member=member_a).values_list("points", flat=True)) == 10
