"""manage.py reconcile (volunteer_platform/reconcile.py): every derived figure recomputed from the records.

A tree in agreement reports nothing; each disagreement planted around the services — the kind a bug, a raw SQL
fix or a lost hook leaves — is found with its member and cause, and `--fix` repairs it by appending ledger entries
and recomputing caches through the services, never by changing a ledger entry."""

from datetime import date, timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.utils import timezone

from demands.models import MicroWish
from incentives import services as incentive_services
from incentives.models import LedgerEntry, PointsBalance, RatingRun, Rule, StarRating
from members import services as member_services
from members.models import ServiceRecord, ServiceYear
from notifications.models import Notification
from tests.demands.factories import wish_in_state
from tests.incentives.conftest import add_hours
from tests.members.factories import MemberFactory
from tests.training.factories import CourseFactory, SessionFactory
from training.models import TrainingRecord
from volunteer_platform import reconcile, selectors, services

pytestmark = pytest.mark.django_db


def today():
    return timezone.localdate()


def last_month():
    return today() - timedelta(days=30)


def ledger_rows() -> dict[int, tuple]:
    """Every ledger entry as written: repairs may add entries, never change one."""
    return {e.pk: (e.member_id, e.kind, e.points, e.earned_points, e.source_ref) for e in LedgerEntry.objects.all()}


@pytest.fixture
def tree(org_tree, secretary_a, member_a, member_b, platform_admin):
    """Records, training, a wish and a commendation — all through the services, so everything agrees."""
    add_hours(member_a, 2, day=last_month(), verifier=secretary_a)
    add_hours(member_b, 3, day=last_month(), verifier=platform_admin)
    wish_in_state("closed", org_tree.community_a, secretary_a, member_a)
    return org_tree


def checks(report) -> list[str]:
    return sorted(d.check for d in report.disagreements)


def test_a_tree_built_through_the_services_agrees(tree):
    report = reconcile.run()
    assert report.members >= 3 and report.disagreements == []


def test_a_verified_record_without_its_points_is_found_and_awarded(tree, member_a, secretary_a):
    record = add_hours(member_a, Decimal("1.5"), day=last_month())  # pending
    ServiceRecord.objects.filter(pk=record.pk).update(status="verified", verified_at=timezone.now())  # no hook
    ServiceYear.objects.filter(member=member_a).delete()  # and the summary row the service would have written

    report = reconcile.run()

    points = [d for d in report.disagreements if d.check == "points"]
    assert len(points) == 1 and points[0].member_id == member_a.pk
    assert (points[0].expected, points[0].found) == ("15 分", "0 分")
    assert "未入账" in points[0].cause and "李明" in points[0].line()

    before = ledger_rows()
    fixed = reconcile.run(fix=True)
    assert fixed.disagreements == [] and fixed.fixed >= 1
    after = ledger_rows()
    assert {pk: after[pk] for pk in before} == before  # nothing written is changed
    new = LedgerEntry.objects.exclude(pk__in=before).get()
    assert (new.kind, new.points, new.source_ref) == ("award", 15, f"record:{record.pk}")


def test_hours_changed_around_the_service_get_a_correction_entry(tree, member_b):
    record = member_b.service_records.get()
    ServiceRecord.objects.filter(pk=record.pk).update(hours=Decimal("1.00"))

    report = reconcile.run()
    assert checks(report) == ["points", "service_year"]  # the ledger and the member's yearly summary row
    points = next(d for d in report.disagreements if d.check == "points")
    assert (points.expected, points.found) == ("10 分", "30 分")

    reconcile.run(fix=True)
    entry = LedgerEntry.objects.filter(member=member_b).latest("pk")
    assert (entry.kind, entry.points, entry.earned_points) == ("correction", -20, -20)
    assert PointsBalance.objects.get(member=member_b).balance == 10


def test_a_void_record_keeps_no_points(tree, member_b):
    record = member_b.service_records.get()
    ServiceRecord.objects.filter(pk=record.pk).update(status="void", voided_at=timezone.now(), void_reason="重复录入")

    report = reconcile.run()
    assert [d.cause for d in report.disagreements if d.check == "points"] == [
        "来源已不再计分（作废、未确认或被撤销），积分未冲正"
    ]

    reconcile.run(fix=True)
    reversal = LedgerEntry.objects.filter(member=member_b).latest("pk")
    assert (reversal.kind, reversal.points, reversal.note) == ("reversal", -30, "重复录入")
    assert PointsBalance.objects.get(member=member_b).balance == 0


def test_a_tampered_balance_is_recomputed_from_the_ledger(tree, member_a):
    PointsBalance.objects.filter(member=member_a).update(balance=1, earned_total=999)
    report = reconcile.run()
    assert checks(report) == ["balance"] and report.disagreements[0].member_id == member_a.pk

    entries = LedgerEntry.objects.count()
    reconcile.run(fix=True)
    assert LedgerEntry.objects.count() == entries  # the cache is repaired, the ledger untouched
    assert reconcile.run().disagreements == []


def test_points_no_source_earned_are_found_and_reversed(tree, member_a):
    incentive_services.award(
        member=member_a,
        rule=Rule.Code.SERVICE_HOUR,
        quantity=5,
        idempotency_key="made-up",
        source_ref="demo-activity:1",
    )
    report = reconcile.run()
    (orphan,) = report.disagreements
    assert orphan.check == "points" and "找不到对应的来源" in orphan.cause and orphan.found == "50 分"

    reconcile.run(fix=True)
    assert list(
        LedgerEntry.objects.filter(source_ref="demo-activity:1").order_by("pk").values_list("kind", "points")
    ) == [
        ("award", 50),
        ("reversal", -50),
    ]
    assert reconcile.run().disagreements == []


def test_training_and_wishes_are_sources_too(tree, org_tree, member_a):
    session = SessionFactory(course=CourseFactory(hours=Decimal("2")), organizer=org_tree.branch_a)
    TrainingRecord.objects.create(  # written around the service: no points
        member=member_a, course=session.course, session=session, hours=Decimal("2"), completed_on=last_month()
    )
    wish = MicroWish.objects.get()
    wish_points = LedgerEntry.objects.filter(source_ref=f"wish:{wish.pk}")
    assert sorted(wish_points.values_list("rule__code", flat=True)) == ["resident_rating", "wish_fulfilled"]
    MicroWish.objects.filter(pk=wish.pk).update(rating=3)  # the bonus needs four stars

    report = reconcile.run()
    found = sorted((d.subject.split()[1], d.expected, d.found) for d in report.disagreements)
    assert found == [("参加培训（每学时）", "10 分", "0 分"), ("居民评价加分（每星）", "0 分", "25 分")]

    reconcile.run(fix=True)
    assert reconcile.run().disagreements == []


def test_a_summary_year_that_drifted_is_rebuilt(tree, member_a):
    member_services.service_year_rebuild(year=last_month().year)
    assert reconcile.run().disagreements == []
    ServiceYear.objects.filter(member=member_a, year=last_month().year).update(services=7)

    report = reconcile.run()
    assert "service_year" in checks(report)
    reconcile.run(fix=True)
    assert reconcile.run().disagreements == []


def test_ratings_not_final_are_recomputed_and_final_ones_are_left_to_a_person(
    clock, tree, org_tree, member_a, secretary_a
):
    today = timezone.localdate()
    period = (date(today.year - 1, 1, 1), date(today.year - 1, 12, 31))
    add_hours(member_a, 100, day=period[0] + timedelta(days=10), verifier=secretary_a)
    final = incentive_services.rating_run_create(
        organization=org_tree.branch_a, period_start=period[0], period_end=period[1], actor=secretary_a
    )
    incentive_services.rating_run_compute(run=final)
    incentive_services.rating_run_publish(run=final, actor=secretary_a, publicity_ends_on=today - timedelta(days=1))
    incentive_services.rating_run_finalize(run=final, actor=secretary_a)
    draft = incentive_services.rating_run_create(
        organization=org_tree.branch_a, period_start=date(today.year, 1, 1), period_end=today, actor=secretary_a
    )
    incentive_services.rating_run_compute(run=draft)
    assert reconcile.run().disagreements == []

    StarRating.objects.filter(run=draft, member=member_a).update(basis_value=Decimal("1.00"))
    record = member_a.service_records.get(hours=100)  # corrected after the rating was final
    ServiceRecord.objects.filter(pk=record.pk).update(hours=Decimal("50.00"))

    report = reconcile.run()
    ratings = {d.subject: d for d in report.disagreements if d.check == "rating"}
    assert len(ratings) == 2  # the draft's stars no longer match its value; the final's value, its records
    final_one = next(d for d in ratings.values() if str(final) in d.subject)
    assert final_one.fix is None and "书记" in final_one.cause

    fixed = reconcile.run(fix=True)
    assert [(d.check, d.fix) for d in fixed.disagreements] == [("rating", None)]  # only the final one remains
    assert StarRating.objects.get(run=draft, member=member_a).basis_value == Decimal("53.50")
    assert RatingRun.objects.get(pk=final.pk).ratings.get(member=member_a).basis_value == Decimal(
        "100.00"
    )  # as it was when final


def test_a_dashboard_snapshot_that_disagrees_with_the_records_is_refreshed(tree, org_tree, secretary_a, settings):
    settings.DASHBOARD_SNAPSHOT_MIN_MEMBERS = 1
    services.dashboard_snapshots_refresh()
    assert reconcile.run().disagreements == []
    period = selectors.default_period()

    # Newer records than the snapshot: it is older, not wrong (it is computed again every 10 minutes).
    add_hours(MemberFactory(organization=org_tree.branch_b), 4, day=today(), verifier=secretary_a)
    assert reconcile.run().disagreements == []

    # A snapshot whose figures nothing explains: stored wrong (or the records changed around the services).
    services.dashboard_snapshots_refresh()
    snapshot = selectors.dashboard_snapshot(org_tree.street, period)
    snapshot.members.hours += Decimal("100")
    selectors.snapshot_store(snapshot, timeout=600)
    report = reconcile.run()
    assert {d.check for d in report.disagreements} == {"dashboard"}
    assert any("服务时长" in d.subject for d in report.disagreements)

    reconcile.run(fix=True)
    assert reconcile.run().disagreements == []
    assert selectors.dashboard_snapshot(org_tree.street, period).members.hours == Decimal("10.50")  # 2+3+1.5+4


def test_the_scope_is_one_subtree(tree, org_tree, member_b):
    PointsBalance.objects.filter(member=member_b).update(balance=0)
    assert reconcile.run(organization=org_tree.east).disagreements == []
    assert [d.member_id for d in reconcile.run(organization=org_tree.west).disagreements] == [member_b.pk]


def test_the_command_prints_each_disagreement_and_fails_until_fixed(tree, member_a):
    PointsBalance.objects.filter(member=member_a).update(balance=3)
    out = StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("reconcile", "--quiet", stdout=out)
    assert exit_.value.code == 1
    assert "李明" in out.getvalue() and "1 disagreement(s)" in out.getvalue()

    out = StringIO()
    call_command("reconcile", "--quiet", "--fix", stdout=out)
    assert "0 disagreement(s), 1 repaired" in out.getvalue()


def test_the_weekly_run_tells_the_platform_admins(tree, member_a, platform_admin):
    assert reconcile.run_and_tell_admins() == 0
    assert not Notification.objects.filter(template="site_reconciliation").exists()
    PointsBalance.objects.filter(member=member_a).update(balance=3)

    assert reconcile.run_and_tell_admins() == 1
    message = Notification.objects.get(template="site_reconciliation")
    assert message.recipient_user == platform_admin
