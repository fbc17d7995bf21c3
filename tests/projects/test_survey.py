"""The short survey after an attended activity: the request (plan/send), the page, the answer's rules, the
aggregates per project, member, organization and month."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone

from notifications.models import Notification
from projects import selectors, services, tasks
from projects.models import ActivitySurvey, SignUp
from tests.factories import DEFAULT_PASSWORD
from tests.members.factories import MemberFactory
from tests.projects.factories import ActivityFactory, ProjectFactory
from tests.timing import at

SURVEY = "projects_activity_survey"


@pytest.fixture
def attend(org_tree, secretary_a):
    """`attend(members, ended_ago, project=None)`: an activity of branch A the members signed up for and attended,
    which ended `ended_ago` before now; returns their sign-ups."""
    made = []

    def make(members, ended_ago=timedelta(hours=1), project=None, absent=()):
        project = project or ProjectFactory(organization=org_tree.branch_a)
        starts_at = timezone.now() - ended_ago - timedelta(hours=2)  # 2 hours long
        with at(starts_at - timedelta(days=3)):  # made and signed up for three days before
            activity = ActivityFactory(project=project, starts_at=starts_at)
            signups = [services.signup_create(activity=activity, member=m) for m in [*members, *absent]]
        made.append(activity)
        marks = {s.pk: ("attended", None) for s in signups[: len(members)]}
        marks |= {s.pk: ("no_show", None) for s in signups[len(members) :]}
        services.attendance_submit(activity=activity, marks=marks, actor=secretary_a)
        return [SignUp.objects.get(pk=s.pk) for s in signups[: len(members)]]

    return make


def surveyed():
    return set(
        Notification.objects.filter(template=SURVEY).values_list("recipient_user", "dedupe_key", "kind", "channel")
    )


# --- The request ------------------------------------------------------------------------------------------------


def test_selection_edges(attend, member_a, org_tree):
    now = timezone.now()
    just_ended = attend([member_a], ended_ago=timedelta(0))[0]
    (old,) = attend([member_a], ended_ago=selectors.SURVEY_WITHIN + timedelta(minutes=5))
    absent_member = MemberFactory(organization=org_tree.branch_a)
    (recent,) = attend([member_a], ended_ago=timedelta(hours=3), absent=[absent_member])
    # An activity not ended yet: attended (checked in) but still running.
    with at(now - timedelta(days=3)):
        running = ActivityFactory(project__organization=org_tree.branch_a, starts_at=now - timedelta(minutes=30))
        signup = services.signup_create(activity=running, member=member_a)
    SignUp.objects.filter(pk=signup.pk).update(status=SignUp.Status.ATTENDED, hours=Decimal("1"))

    selected = set(selectors.signups_to_survey(now + timedelta(seconds=1)).values_list("pk", flat=True))
    assert selected == {just_ended.pk, recent.pk}
    assert old.pk not in selected and signup.pk not in selected

    ActivitySurvey.objects.create(signup=recent, rating=4)
    assert set(selectors.signups_to_survey().values_list("pk", flat=True)) == {just_ended.pk}


def test_one_in_app_request_per_attended_signup_and_nothing_twice(attend, member_a, org_tree):
    other = MemberFactory(organization=org_tree.branch_a)
    first, second = attend([member_a, other])

    tasks.plan_activity_surveys.delay()
    expected = {
        (member_a.user_id, f"projects:survey:{first.pk}", "feedback", "inapp"),
        (other.user_id, f"projects:survey:{second.pk}", "feedback", "inapp"),
    }
    assert surveyed() == expected
    note = Notification.objects.get(template=SURVEY, recipient_user=member_a.user)
    assert note.context["survey_url"] == f"/activities/{first.activity_id}/survey/"

    tasks.plan_activity_surveys.delay()
    assert surveyed() == expected
    assert Notification.objects.filter(template=SURVEY).count() == 2


# --- The answer -------------------------------------------------------------------------------------------------


def login(client, member):
    assert client.login(username=member.user.username, password=DEFAULT_PASSWORD)


def test_the_attendee_answers_once_on_the_page(client, attend, member_a):
    (signup,) = attend([member_a])
    url = reverse("projects:activity_survey", args=[signup.activity_id])
    login(client, member_a)
    assert client.get(url).status_code == 200

    response = client.post(url, {"rating": "4", "comment": "  组织有序  "})
    assert response.status_code == 302
    answer = ActivitySurvey.objects.get()
    assert (answer.signup_id, answer.rating, answer.comment) == (signup.pk, 4, "组织有序")

    response = client.post(url, {"rating": "5"})
    assert response.status_code == 400
    assert "您已提交过这次活动的问卷。" in response.content.decode()
    assert ActivitySurvey.objects.get().rating == 4
    assert "survey-answered" in client.get(url).content.decode()


@pytest.mark.parametrize("rating", ["0", "6", "", "abc", "3.5", "-1"])
def test_a_bad_rating_saves_nothing_and_says_why(client, attend, member_a, rating):
    (signup,) = attend([member_a])
    login(client, member_a)
    response = client.post(reverse("projects:activity_survey", args=[signup.activity_id]), {"rating": rating})
    assert response.status_code == 400
    assert "请选择1到5分的满意度。" in response.content.decode()
    assert not ActivitySurvey.objects.exists()


def test_only_the_attendee_may_answer(client, attend, member_a, org_tree):
    absent = MemberFactory(organization=org_tree.branch_a)
    stranger = MemberFactory(organization=org_tree.branch_a)
    (signup,) = attend([member_a], absent=[absent])
    activity = signup.activity
    for member in (absent, stranger):
        with pytest.raises(ValidationError):
            services.survey_submit(activity=activity, member=member, rating=5)
        client.logout()
        login(client, member)
        assert client.post(reverse("projects:activity_survey", args=[activity.pk]), {"rating": "5"}).status_code == 404
    assert not ActivitySurvey.objects.exists()


def test_a_running_activity_cannot_be_answered_yet(attend, member_a):
    (signup,) = attend([member_a], ended_ago=-timedelta(hours=1, minutes=30))  # started half an hour ago
    with pytest.raises(ValidationError, match="活动结束后"):
        services.survey_submit(activity=signup.activity, member=member_a, rating=3)


def test_the_database_refuses_a_second_answer_and_a_bad_rating(attend, member_a):
    from django.db import IntegrityError, transaction

    (signup,) = attend([member_a])
    ActivitySurvey.objects.create(signup=signup, rating=5)
    with pytest.raises(IntegrityError), transaction.atomic():
        ActivitySurvey.objects.create(signup=signup, rating=4)
    ActivitySurvey.objects.all().delete()
    with pytest.raises(IntegrityError), transaction.atomic():
        ActivitySurvey.objects.create(signup=signup, rating=6)


# --- Aggregates -------------------------------------------------------------------------------------------------


def test_aggregates_per_project_member_organization_and_month(attend, member_a, member_b, org_tree, client):
    project = ProjectFactory(organization=org_tree.branch_a, slug="yinling")
    other = MemberFactory(organization=org_tree.branch_a)
    a1, o1 = attend([member_a, other], project=project)
    (a2,) = attend([member_a], project=project, ended_ago=timedelta(days=2))
    (b_only,) = attend([other])  # another project of branch A
    for signup, rating in ((a1, 5), (o1, 2), (a2, 4), (b_only, 3)):
        services.survey_submit(activity=signup.activity, member=signup.member, rating=rating)

    summary = selectors.survey_summary_for_project(project)
    assert (summary.count, summary.mean) == (3, Decimal("3.7"))  # (5 + 2 + 4) / 3
    mine = selectors.survey_summary_for_member(member_a)
    assert (mine.count, mine.mean) == (2, Decimal("4.5"))
    nobody = selectors.survey_summary_for_member(member_b)
    assert (nobody.count, nobody.mean) == (0, None)

    months = {}
    for signup in (a1, o1, a2, b_only):
        month = timezone.localtime(signup.activity.starts_at).date().replace(day=1)
        months.setdefault(month, []).append({a1: 5, o1: 2, a2: 4, b_only: 3}[signup])
    rows = selectors.survey_summary_by_organization_month(
        [org_tree.branch_a.pk, org_tree.branch_b.pk], date(2000, 1, 1), date(2100, 1, 1)
    )
    assert [(r.organization_id, r.month, r.count) for r in rows] == [
        (org_tree.branch_a.pk, month, len(values)) for month, values in sorted(months.items())
    ]
    for row in rows:
        values = months[row.month]
        assert row.mean == (Decimal(sum(values)) / len(values)).quantize(Decimal("0.1"))
    assert (
        selectors.survey_summary_by_organization_month([org_tree.branch_b.pk], date(2000, 1, 1), date(2100, 1, 1)) == []
    )

    page = client.get(reverse("projects:project_detail", args=["yinling"])).content.decode()
    assert "满意度 3.7 分" in page and "3 份问卷" in page


def test_the_activity_page_links_an_attendee_to_the_survey(client, attend, member_a):
    (signup,) = attend([member_a])
    login(client, member_a)
    page = client.get(reverse("projects:activity_detail", args=[signup.activity_id])).content.decode()
    assert reverse("projects:activity_survey", args=[signup.activity_id]) in page
