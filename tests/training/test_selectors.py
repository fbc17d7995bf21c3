"""Reads: the qualification gate, requirements and progress at their edges, the completion report, scope."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from members import services as member_services
from tests.members.factories import MemberFactory, OrganizationFactory
from tests.training.factories import CourseFactory, SessionFactory
from training import selectors, services
from training.models import Course, TrainingRecord

pytestmark = pytest.mark.django_db

PDF = b"%PDF-1.4\n%%EOF\n"


def record(member, course, *, on: date, hours=None, expires_on=None):
    """A record as external_training_record makes it, with the expiry given explicitly when needed."""
    made = services.external_training_record(
        member=member,
        course=course,
        hours=hours or course.hours,
        completed_on=on,
        evidence=SimpleUploadedFile("证书.pdf", PDF),
        actor=None,
    )
    if expires_on is not None:
        TrainingRecord.objects.filter(pk=made.pk).update(expires_on=expires_on)
    return made


# --- Qualification ------------------------------------------------------------------------------------------


def test_no_record_no_qualification(member_a):
    assert not selectors.is_qualified(member_a, CourseFactory())


def test_a_record_without_expiry_qualifies_from_its_day_on(member_a):
    course = CourseFactory(validity_months=None)
    done = timezone.localdate() - timedelta(days=400)
    record(member_a, course, on=done)
    assert not selectors.is_qualified(member_a, course, on=done - timedelta(days=1))
    assert selectors.is_qualified(member_a, course, on=done)
    assert selectors.is_qualified(member_a, course)


def test_a_qualification_expires_on_its_expiry_date(member_a):
    course = CourseFactory(validity_months=12)
    done = date(2024, 3, 10)
    made = record(member_a, course, on=done)
    assert made.expires_on == date(2025, 3, 10)
    assert selectors.is_qualified(member_a, course, on=date(2025, 3, 9))  # the last valid day
    assert not selectors.is_qualified(member_a, course, on=date(2025, 3, 10))  # expires_on itself: no longer
    assert not selectors.is_qualified(member_a, course, on=date(2025, 3, 11))


def test_a_renewed_record_restores_the_qualification(member_a):
    course = CourseFactory(validity_months=6)
    record(member_a, course, on=date(2023, 1, 1))
    assert not selectors.is_qualified(member_a, course, on=date(2024, 1, 1))
    record(member_a, course, on=date(2023, 12, 1))
    assert selectors.is_qualified(member_a, course, on=date(2024, 1, 1))


def test_qualification_is_per_member_and_course(member_a, member_b):
    course, other = CourseFactory(), CourseFactory()
    record(member_a, course, on=timezone.localdate())
    assert selectors.is_qualified(member_a, course)
    assert not selectors.is_qualified(member_b, course)
    assert not selectors.is_qualified(member_a, other)


# --- Requirements and progress --------------------------------------------------------------------------------


def test_the_nearest_requirement_up_the_tree_applies(org_tree, member_a, member_b, this_year):
    services.requirement_set(organization=org_tree.street, year=this_year, total_hours=Decimal(20), actor=None)
    services.requirement_set(organization=org_tree.east, year=this_year, total_hours=Decimal(30), actor=None)
    services.requirement_set(organization=org_tree.west, year=this_year - 1, total_hours=Decimal(99), actor=None)
    assert selectors.requirement_for(member_a.organization, this_year).total_hours == 30
    assert selectors.requirement_for(member_b.organization, this_year).total_hours == 20  # last year's is not this
    assert selectors.requirement_for(member_b.organization, this_year + 1) is None


@pytest.fixture
def requirement(org_tree, this_year):
    """This year: 10 hours in all, at least 4 of theory and 2 of practical skills."""
    return services.requirement_set(
        organization=org_tree.street,
        year=this_year,
        total_hours=Decimal(10),
        theory_hours=Decimal(4),
        practical_hours=Decimal(2),
        actor=None,
    )


@pytest.fixture
def courses():
    return {
        "theory": CourseFactory(type=Course.Type.THEORY, hours=Decimal(4)),
        "practical": CourseFactory(type=Course.Type.PRACTICAL, hours=Decimal(2)),
        "business": CourseFactory(type=Course.Type.BUSINESS, hours=Decimal(4)),
    }


def _done_this_year(this_year):
    return min(timezone.localdate(), date(this_year, 6, 30))


def test_progress_exactly_meeting_every_figure_is_complete(member_a, requirement, courses, this_year):
    on = _done_this_year(this_year)
    for course in courses.values():
        record(member_a, course, on=on)
    progress = selectors.progress_for(member_a, this_year)
    assert progress.total.hours == progress.total.required == Decimal(10)
    theory = progress.by_type[0]
    assert (theory.hours, theory.required, theory.complete, theory.percent) == (4, 4, True, 100)
    assert progress.complete


def test_progress_a_hair_short_is_not_complete(member_a, requirement, courses, this_year):
    on = _done_this_year(this_year)
    record(member_a, courses["theory"], on=on)
    record(member_a, courses["practical"], on=on)
    record(member_a, courses["business"], on=on, hours=Decimal("3.99"))
    progress = selectors.progress_for(member_a, this_year)
    assert progress.total.hours == Decimal("9.99")
    assert not progress.total.complete
    assert progress.total.percent == 99
    assert not progress.complete


def test_progress_enough_hours_but_a_type_short_is_not_complete(member_a, requirement, courses, this_year):
    on = _done_this_year(this_year)
    record(member_a, courses["theory"], on=on)
    record(member_a, courses["business"], on=on, hours=Decimal(8))
    progress = selectors.progress_for(member_a, this_year)
    assert progress.total.complete
    practical = progress.by_type[3]
    assert (practical.hours, practical.complete, practical.percent) == (0, False, 0)
    assert not progress.complete


def test_progress_counts_the_year_only(member_a, requirement, courses, this_year):
    record(member_a, courses["theory"], on=date(this_year - 1, 12, 31))
    progress = selectors.progress_for(member_a, this_year)
    assert progress.total.hours == 0
    assert selectors.progress_for(member_a, this_year - 1).total.hours == 4


def test_progress_over_the_requirement_caps_the_bar(member_a, requirement, courses, this_year):
    record(member_a, courses["theory"], on=_done_this_year(this_year), hours=Decimal(12))
    theory = selectors.progress_for(member_a, this_year).by_type[0]
    assert (theory.percent, theory.value_now, theory.hours) == (100, 4, 12)


def test_progress_without_a_requirement(member_a, courses, this_year):
    record(member_a, courses["theory"], on=_done_this_year(this_year))
    progress = selectors.progress_for(member_a, this_year)
    assert progress.requirement is None
    assert progress.total.hours == 4
    assert not progress.complete


def test_a_zero_requirement_is_met_without_training(org_tree, member_a, this_year):
    services.requirement_set(organization=org_tree.branch_a, year=this_year, total_hours=Decimal(0), actor=None)
    assert selectors.progress_for(member_a, this_year).complete


# --- Completion report ----------------------------------------------------------------------------------------


def test_completion_by_branch(org_tree, member_a, member_b, requirement, courses, this_year):
    on = _done_this_year(this_year)
    services.requirement_set(organization=org_tree.branch_b, year=this_year, total_hours=Decimal(2), actor=None)
    # Branch A: member_a complete, a second member short, a third with nothing; an inactive member not counted.
    for course in courses.values():
        record(member_a, course, on=on)
    short = MemberFactory(organization=org_tree.branch_a)
    record(short, courses["business"], on=on)
    MemberFactory(organization=org_tree.branch_a)
    gone = MemberFactory(organization=org_tree.branch_a)
    record(gone, courses["theory"], on=on)
    member_services.member_deactivate(member=gone, actor=None, reason="迁出")
    # Branch B (its own requirement: 2 hours): member_b meets it exactly.
    record(member_b, courses["practical"], on=on)

    report = selectors.completion_by_branch(org_tree.street, this_year)
    rows = {row.organization.name: row for row in report.rows}
    assert set(rows) == {"东一支部", "西一支部"}
    a, b = rows["东一支部"], rows["西一支部"]
    assert (a.members, a.completed, a.hours, a.rate, a.requirement.total_hours) == (3, 1, 14, Decimal("33.3"), 10)
    assert (b.members, b.completed, b.hours, b.rate, b.requirement.total_hours) == (1, 1, 2, Decimal("100.0"), 2)
    assert (report.members, report.completed, report.hours, report.rate) == (4, 2, 16, Decimal("50.0"))
    assert a.depth == 2


def test_completion_of_a_branch_alone_uses_the_requirement_above_it(org_tree, member_a, requirement, this_year):
    report = selectors.completion_by_branch(org_tree.branch_a, this_year)
    assert [(r.organization, r.members, r.completed, r.requirement) for r in report.rows] == [
        (org_tree.branch_a, 1, 0, requirement)
    ]


def test_completion_without_requirement_has_no_rate(org_tree, member_a, this_year):
    report = selectors.completion_by_branch(org_tree.street, this_year)
    assert all(row.rate is None for row in report.rows)
    assert report.rate is None


# --- Offers and scope -----------------------------------------------------------------------------------------


def test_courses_and_sessions_offered_follow_the_tree(org_tree, member_a):
    mine = CourseFactory(organization=org_tree.branch_a)
    street = CourseFactory(organization=org_tree.street)
    everyone = CourseFactory()
    CourseFactory(organization=org_tree.branch_b)
    CourseFactory(active=False)
    assert set(selectors.courses_for_member(member_a)) == {mine, street, everyone}

    own = SessionFactory(course=mine, organizer=org_tree.branch_a)
    above = SessionFactory(course=street, organizer=org_tree.street)
    SessionFactory(course=everyone, organizer=org_tree.branch_b)
    assert list(selectors.upcoming_sessions_for_member(member_a)) == sorted([own, above], key=lambda s: s.starts_at)


def test_secretaries_see_their_subtree(org_tree, secretary_a, secretary_b, member_a, member_b, platform_admin):
    group = OrganizationFactory(name="东一支部第一小组", type="group", parent=org_tree.branch_a)
    a_session = SessionFactory(organizer=group)
    b_session = SessionFactory(organizer=org_tree.branch_b)
    street_course = CourseFactory(organization=org_tree.street)
    b_course = CourseFactory(organization=org_tree.branch_b)
    assert set(selectors.visible_sessions(secretary_a)) == {a_session}
    assert set(selectors.visible_sessions(secretary_b)) == {b_session}
    assert set(selectors.visible_sessions(platform_admin)) == {a_session, b_session}
    assert street_course in selectors.visible_courses(secretary_a)
    assert b_course not in selectors.visible_courses(secretary_a)
    assert street_course not in selectors.editable_courses(secretary_a)
    assert not selectors.visible_sessions(member_a.user).exists()
    assert not selectors.is_training_secretary(member_a.user)
    assert selectors.is_training_secretary(secretary_a)
