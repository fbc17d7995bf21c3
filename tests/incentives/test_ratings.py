"""Star ratings: thresholds at their edges, scheme inheritance, draft → 公示 (objections) → final, idempotent runs."""

from datetime import date, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from incentives import selectors, services
from incentives.models import Objection, RatingRun, StarRating
from members import services as member_services
from notifications.models import Notification
from tests.incentives.conftest import add_hours, fund
from tests.members.factories import MemberFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

YEAR_START, YEAR_END = date(2024, 1, 1), date(2024, 12, 31)
IN_YEAR = date(2024, 6, 1)


@pytest.fixture
def run_a(org_tree, secretary_a):
    return services.rating_run_create(
        organization=org_tree.branch_a, period_start=YEAR_START, period_end=YEAR_END, actor=secretary_a
    )


def stars_of(run) -> dict[str, int]:
    return {rating.member.name: rating.stars for rating in run.ratings.select_related("member")}


def end_publicity(run) -> None:
    """Move the end of the 公示 into the past, as the calendar would."""
    RatingRun.objects.filter(pk=run.pk).update(publicity_ends_on=timezone.localdate() - timedelta(days=1))
    run.refresh_from_db()


def test_stars_at_the_edges_of_the_hours_thresholds(org_tree, run_a, platform_admin):
    almost = MemberFactory(name="差一点", organization=org_tree.branch_a)
    exactly = MemberFactory(name="刚好", organization=org_tree.branch_a)
    top = MemberFactory(name="五星", organization=org_tree.branch_a)
    add_hours(almost, "99.50", day=IN_YEAR, verifier=platform_admin)
    add_hours(exactly, "60", day=IN_YEAR, verifier=platform_admin)
    add_hours(exactly, "40", day=date(2023, 3, 1), verifier=platform_admin)  # cumulative: earlier years count
    add_hours(top, "999.99", day=IN_YEAR, verifier=platform_admin)
    add_hours(top, "500.01", day=date(2024, 7, 1), verifier=platform_admin)

    services.rating_run_compute(run=run_a)

    ratings = {r.member.name: r for r in run_a.ratings.select_related("member")}
    assert (ratings["差一点"].basis_value, ratings["差一点"].stars) == (99.5, 0)
    assert (ratings["刚好"].basis_value, ratings["刚好"].stars) == (100, 1)
    assert (ratings["五星"].basis_value, ratings["五星"].stars) == (1500, 5)
    assert ratings["刚好"].thresholds == [100, 300, 600, 1000, 1500]
    assert ratings["刚好"].basis == "hours"


def test_only_counted_hours_up_to_the_end_of_the_period_count(org_tree, run_a, platform_admin):
    member = MemberFactory(name="计时", organization=org_tree.branch_a)
    add_hours(member, 90, day=IN_YEAR, verifier=platform_admin)
    add_hours(member, 50, day=IN_YEAR)  # pending
    voided = add_hours(member, 50, day=IN_YEAR, verifier=platform_admin)
    member_services.service_record_void(record=voided, actor=platform_admin, reason="重复")
    add_hours(member, 50, day=date(2025, 1, 2), verifier=platform_admin)  # after the period

    services.rating_run_compute(run=run_a)

    assert run_a.ratings.get(member=member).basis_value == 90


def test_points_bands_count_points_earned_in_the_period_and_ignore_spending(org_tree, member_a, secretary_a):
    services.star_scheme_save(
        organization=org_tree.east, basis="points", thresholds=[100, 200, 300, 400, 500], publicity_days=7
    )
    this_year = timezone.localdate().year
    run = services.rating_run_create(
        organization=org_tree.branch_a,
        period_start=date(this_year, 1, 1),
        period_end=date(this_year, 12, 31),
        actor=secretary_a,
    )
    fund(member_a, 250)
    services.spend(member=member_a, points=200, idempotency_key="spend-most")

    services.rating_run_compute(run=run)

    rating = run.ratings.get(member=member_a)
    assert (rating.basis, rating.basis_value, rating.stars) == ("points", 250, 2)
    last_year = services.rating_run_create(
        organization=org_tree.branch_a, period_start=YEAR_START, period_end=YEAR_END, actor=secretary_a
    )
    services.rating_run_compute(run=last_year)
    assert last_year.ratings.get(member=member_a).stars == 0  # this year's points are not last year's


def test_a_member_uses_the_nearest_scheme_up_the_tree(org_tree, member_a, member_b):
    group = OrganizationFactory(name="东一支部党小组", type="group", parent=org_tree.branch_a)
    services.star_scheme_save(organization=org_tree.street, basis="hours", thresholds=[1, 2, 3, 4, 5], publicity_days=5)
    services.star_scheme_save(
        organization=org_tree.east, basis="points", thresholds=[10, 20, 30, 40, 50], publicity_days=3
    )
    schemes = selectors.schemes_for_members([member_a, member_b])
    assert schemes[member_a.pk] == ("points", [10, 20, 30, 40, 50])
    assert schemes[member_b.pk] == ("hours", [1, 2, 3, 4, 5])
    assert selectors.scheme_for_organization(group)[2] == 3
    assert selectors.scheme_for_organization(org_tree.west) == ("hours", [1, 2, 3, 4, 5], 5)


def test_without_any_scheme_the_default_hours_scheme_applies(org_tree):
    assert selectors.scheme_for_organization(org_tree.branch_b) == ("hours", [100, 300, 600, 1000, 1500], 5)


def test_thresholds_must_be_five_increasing_numbers(org_tree):
    for bad in ([100, 300, 600, 1000], [100, 300, 300, 1000, 1500], [0, 1, 2, 3, 4], ["a", 1, 2, 3, 4]):
        with pytest.raises(ValidationError):
            services.star_scheme_save(organization=org_tree.east, basis="hours", thresholds=bad, publicity_days=5)


def test_running_the_same_period_twice_changes_nothing(org_tree, run_a, member_a, platform_admin, secretary_a):
    add_hours(member_a, 120, day=IN_YEAR, verifier=platform_admin)
    assert services.rating_run_compute(run=run_a) > 0
    run_a.refresh_from_db()
    before = list(run_a.ratings.order_by("pk").values())
    computed_at = run_a.computed_at

    assert services.rating_run_compute(run=run_a) == 0
    assert (
        services.rating_run_create(
            organization=org_tree.branch_a, period_start=YEAR_START, period_end=YEAR_END, actor=secretary_a
        )
        == run_a
    )

    run_a.refresh_from_db()
    assert list(run_a.ratings.order_by("pk").values()) == before
    assert run_a.computed_at == computed_at
    assert RatingRun.objects.count() == 1


def test_a_recomputed_draft_follows_the_data(org_tree, run_a, member_a, platform_admin):
    add_hours(member_a, 120, day=IN_YEAR, verifier=platform_admin)
    services.rating_run_compute(run=run_a)
    add_hours(member_a, 200, day=IN_YEAR, verifier=platform_admin)
    # A draft follows each verified record at once (the record's hook); computing again finds nothing to change.
    assert run_a.ratings.get(member=member_a).stars == 2
    assert services.rating_run_compute(run=run_a) == 0
    member_services.member_transfer(member=member_a, to_organization=org_tree.branch_b, actor=platform_admin)
    services.rating_run_compute(run=run_a)
    assert not run_a.ratings.filter(member=member_a).exists()  # left the subtree before the 公示


def test_publish_starts_the_publicity_and_tells_each_member(org_tree, run_a, member_a, secretary_a):
    services.rating_run_compute(run=run_a)
    services.rating_run_publish(run=run_a, actor=secretary_a)

    run_a.refresh_from_db()
    assert run_a.status == "publicity"
    assert run_a.publicity_ends_on == timezone.localdate() + timedelta(days=5)
    assert set(run_a.ratings.values_list("status", flat=True)) == {"publicity"}
    messages = Notification.objects.filter(template="incentives_rating_published")
    assert messages.count() == run_a.ratings.count()
    assert messages.filter(recipient_user=member_a.user).exists()
    with pytest.raises(ValidationError):
        services.rating_run_publish(run=run_a, actor=secretary_a)
    with pytest.raises(ValidationError):
        services.rating_run_compute(run=run_a)  # the published figures stay as they were shown


def test_a_run_is_computed_before_it_is_published(run_a, secretary_a):
    with pytest.raises(ValidationError, match="先计算"):
        services.rating_run_publish(run=run_a, actor=secretary_a)


def test_an_objection_during_the_publicity_period(run_a, member_a, member_b, secretary_a):
    services.rating_run_compute(run=run_a)
    rating = run_a.ratings.get(member=member_a)
    with pytest.raises(ValidationError, match="公示期"):
        services.objection_file(rating=rating, member=member_a, text="草稿阶段")  # not yet published
    services.rating_run_publish(run=run_a, actor=secretary_a)

    objection = services.objection_file(rating=rating, member=member_a, text="漏记了三月的服务")

    assert (objection.outcome, objection.stars_before) == ("pending", 0)
    with pytest.raises(ValidationError, match="等待答复"):
        services.objection_file(rating=rating, member=member_a, text="再提一次")
    with pytest.raises(PermissionDenied):
        services.objection_file(rating=rating, member=member_b, text="替别人提")
    with pytest.raises(ValidationError):
        services.objection_file(rating=rating, member=member_a, text="   ")


def test_no_objection_after_the_publicity_period(run_a, member_a, secretary_a):
    services.rating_run_compute(run=run_a)
    services.rating_run_publish(run=run_a, actor=secretary_a)
    end_publicity(run_a)
    with pytest.raises(ValidationError, match="公示期"):
        services.objection_file(rating=run_a.ratings.get(member=member_a), text="晚了", member=member_a)
    assert not Objection.objects.exists()


def test_the_answer_may_change_the_stars_and_is_sent_to_the_member(run_a, member_a, secretary_a):
    services.rating_run_compute(run=run_a)
    services.rating_run_publish(run=run_a, actor=secretary_a)
    objection = services.objection_file(rating=run_a.ratings.get(member=member_a), member=member_a, text="漏记")

    answered = services.objection_answer(objection=objection, actor=secretary_a, answer="已补录，调整为一星", stars=1)

    assert (answered.outcome, answered.stars_after, answered.answered_by) == ("changed", 1, secretary_a)
    rating = run_a.ratings.get(member=member_a)
    assert (rating.computed_stars, rating.stars) == (0, 1)
    assert Notification.objects.filter(recipient_user=member_a.user, template="incentives_objection_answered").exists()
    with pytest.raises(ValidationError, match="已经答复"):
        services.objection_answer(objection=objection, actor=secretary_a, answer="再答一次")

    again = services.objection_file(rating=rating, member=member_a, text="还是不对")
    kept = services.objection_answer(objection=again, actor=secretary_a, answer="经核实维持")
    assert (kept.outcome, kept.stars_after) == ("maintained", 1)


def test_finalize_after_the_publicity_period_with_every_objection_answered(run_a, member_a, secretary_a):
    services.rating_run_compute(run=run_a)
    with pytest.raises(ValidationError):
        services.rating_run_finalize(run=run_a, actor=secretary_a)  # still a draft
    services.rating_run_publish(run=run_a, actor=secretary_a)
    objection = services.objection_file(rating=run_a.ratings.get(member=member_a), member=member_a, text="漏记")
    with pytest.raises(ValidationError, match="之后才能定级"):
        services.rating_run_finalize(run=run_a, actor=secretary_a)
    end_publicity(run_a)
    with pytest.raises(ValidationError, match="没有答复"):
        services.rating_run_finalize(run=run_a, actor=secretary_a)
    services.objection_answer(objection=objection, actor=secretary_a, answer="调整", stars=3)

    services.rating_run_finalize(run=run_a, actor=secretary_a)

    run_a.refresh_from_db()
    assert (run_a.status, run_a.finalized_by) == ("final", secretary_a)
    assert set(run_a.ratings.values_list("status", flat=True)) == {"final"}
    assert selectors.current_stars(member_a) == 3
    with pytest.raises(ValidationError):
        services.rating_run_compute(run=run_a)
    with pytest.raises(ValidationError):
        services.rating_run_finalize(run=run_a, actor=secretary_a)


def test_current_stars_are_those_of_the_latest_final_rating(org_tree, member_a, secretary_a, platform_admin):
    assert selectors.current_stars(member_a) == 0
    add_hours(member_a, 150, day=date(2023, 5, 1), verifier=platform_admin)
    add_hours(member_a, 200, day=IN_YEAR, verifier=platform_admin)
    for start, end in ((date(2023, 1, 1), date(2023, 12, 31)), (YEAR_START, YEAR_END)):
        run = services.rating_run_create(organization=org_tree.branch_a, period_start=start, period_end=end, actor=None)
        services.rating_run_compute(run=run)
        services.rating_run_publish(run=run, actor=secretary_a)
        end_publicity(run)
        services.rating_run_finalize(run=run, actor=secretary_a)
    assert selectors.current_stars(member_a) == 2  # 350 h by the end of 2024, not 150 h by the end of 2023

    this_year = timezone.localdate().year
    draft = services.rating_run_create(
        organization=org_tree.branch_a,
        period_start=date(this_year, 1, 1),
        period_end=date(this_year, 12, 31),
        actor=None,
    )
    services.rating_run_compute(run=draft)
    assert StarRating.objects.filter(member=member_a).count() == 3
    assert selectors.current_stars(member_a) == 2  # a draft or a 公示 is not a rating yet
