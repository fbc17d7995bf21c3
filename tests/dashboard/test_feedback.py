"""Feedback collected after service where it is read: the dashboard's survey satisfaction, the member's
profile and the secretaries' monthly digest (with the overdue plan tasks of 督促检查), against a hand count.

On top of the dashboard's street (conftest), members' answers to the survey after an attended activity:

| activity | project of | starts | answers |
|---|---|---|---|
| x1 | branch A | 2025-03-05 | a1 ★5, 郑转 ★3 |
| x2 | branch B | 2025-06-10 | b1 ★2 |
| x0 | branch B | 2024-12-20 | b1 ★1 (last year) |

2025: street 3 answers, mean 10/3 = 3.3; branch A 2, 4.0; branch B 1, 2.0; west committee as branch B.
March 2025: street 2 answers, 4.0; wishes received 1 (w2), fulfilled 1 (w2), one resident rating ★3 (w2).
Residents rated a1's wishes w1 ★5 and w2 ★3 (2, 4.0); nobody rated b1's w5.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from notifications.models import Notification
from notifications.rendering import render_message
from projects.models import Activity, ActivitySurvey, SignUp
from tests.dashboard.test_pages import sheet_rows
from tests.factories import DEFAULT_PASSWORD
from tests.projects.factories import ActivityFactory, ProjectFactory
from tests.timing import at
from volunteer_platform import selectors
from volunteer_platform import services as site_services
from volunteer_platform.selectors import Period


@pytest.fixture
def street(shared_street):  # made once for the module (tests/dashboard/conftest.py)
    return shared_street


TZ = ZoneInfo("Asia/Shanghai")


def _activity(organization, starts: datetime) -> Activity:
    with at(starts - timedelta(days=3)):
        return ActivityFactory(project=ProjectFactory(organization=organization), starts_at=starts)


def _answer(activity, member, rating: int) -> ActivitySurvey:
    signup = SignUp.objects.create(
        activity=activity,
        member=member,
        status=SignUp.Status.ATTENDED,
        hours=Decimal("2"),
        marked_at=activity.starts_at,
    )
    return ActivitySurvey.objects.create(signup=signup, rating=rating)


@pytest.fixture
def answered(street):
    x1 = _activity(street.branch_a, datetime(2025, 3, 5, 9, tzinfo=TZ))
    x2 = _activity(street.branch_b, datetime(2025, 6, 10, 9, tzinfo=TZ))
    x0 = _activity(street.branch_b, datetime(2024, 12, 20, 9, tzinfo=TZ))
    _answer(x1, street.a1, 5)
    _answer(x1, street.moved, 3)
    _answer(x2, street.b1, 2)
    _answer(x0, street.b1, 1)
    return street


def figures(summary):
    return summary.count, summary.mean


def test_survey_satisfaction_of_a_subtree_and_period(answered):
    t = answered
    year = Period.year(2025)
    assert figures(selectors.survey_figures(t.street, year)) == (3, Decimal("3.3"))
    assert figures(selectors.survey_figures(t.branch_a, year)) == (2, Decimal("4.0"))
    assert figures(selectors.survey_figures(t.branch_b, year)) == (1, Decimal("2.0"))
    assert figures(selectors.survey_figures(t.west, year)) == (1, Decimal("2.0"))
    assert figures(selectors.survey_figures(t.street, Period.year(2024))) == (1, Decimal("1.0"))
    assert figures(selectors.survey_figures(t.street, Period.month(2025, 3))) == (2, Decimal("4.0"))
    # An empty period: no answers, no mean (the page shows "—").
    assert figures(selectors.survey_figures(t.street, Period.month(2025, 4))) == (0, None)


def test_the_dashboard_shows_survey_satisfaction(client, answered):
    client.force_login(answered.secretary_b)
    response = client.get("/dashboard/?year=2025")
    assert response.status_code == 200
    assert response.context["d"].surveys.count == 1
    assert '<p class="figure-value mb-0" id="fig-surveys">2.0 / 1</p>' in response.content.decode()
    rows = sheet_rows(client.get("/dashboard/export/figures.xlsx?year=2025"))
    values = dict(rows[1:])
    assert (values["活动问卷满意度（平均分）"], values["活动问卷答卷数"]) == (2.0, 1)


def test_the_members_profile_shows_the_feedback_on_their_service(client, answered):
    feedback = selectors.member_feedback(answered.a1)
    assert (feedback.resident_rating_count, feedback.resident_rating_mean) == (2, Decimal("4.0"))
    assert (feedback.survey_count, feedback.survey_mean) == (1, Decimal("5.0"))
    unrated = selectors.member_feedback(answered.b1)
    assert (unrated.resident_rating_count, unrated.resident_rating_mean) == (0, None)
    assert (unrated.survey_count, unrated.survey_mean) == (2, Decimal("1.5"))

    assert client.login(username="a1", password=DEFAULT_PASSWORD)
    page = client.get("/me/").content.decode()
    assert '<dd class="col-5 mb-1" id="feedback-residents">4.0 分（2 次评价）</dd>' in page
    assert '<dd class="col-5 mb-0" id="feedback-surveys">5.0 分（1 份问卷）</dd>' in page
    client.logout()
    assert client.login(username="b1", password=DEFAULT_PASSWORD)
    page = client.get("/me/").content.decode()
    assert '<dd class="col-5 mb-1" id="feedback-residents">暂无评价</dd>' in page


def test_the_digest_extras_of_a_month(answered):
    t = answered
    extras = selectors.digest_extras(t.street, 2025, 3, today=date(2025, 7, 1))
    assert extras == {
        "wishes_received": 1,
        "wishes_fulfilled": 1,
        "wishes_fulfilled_by_members": 1,  # w2, by a1 of branch A
        "rating_count": 1,
        "rating_mean": "3",
        "survey_count": 2,
        "survey_mean": "4",
        "overdue_count": 1,
        "overdue_tasks": [{"title": "建立助老服务队", "assignee": "东一支部", "due_on": "2025-06-30"}],
    }
    # On the task's due date it is not overdue yet; the west's subtree has no task of its own that is late.
    assert selectors.digest_extras(t.street, 2025, 3, today=date(2025, 6, 30))["overdue_count"] == 0
    west = selectors.digest_extras(t.west, 2025, 3, today=date(2025, 7, 1))
    assert (west["wishes_received"], west["survey_count"], west["overdue_count"]) == (0, 0, 0)


def test_the_secretarys_monthly_digest_lists_the_overdue_tasks_and_the_satisfaction(answered):
    """The east committee's secretary: branch A's overdue task is in their subtree."""
    t = answered
    site_services.monthly_digest_send(organization_ids=[t.east.pk], year=2025, month=3)
    digest = Notification.objects.get(template="members_monthly_digest", channel="inapp")
    assert digest.recipient_user == t.east_secretary
    body = render_message(digest).body
    assert "本月辖区居民微心愿：收到 1 个，实现 1 个" in body
    assert "本月党员实现微心愿：1 个" in body
    assert "居民评价：平均 3 分（1 次）" in body
    assert "活动问卷：平均 4 分（2 份）" in body  # branch A's activity x1 is in the east's subtree; x2 is not
    assert "逾期未完成的任务：1 项" in body
    assert "- 建立助老服务队（责任：东一支部，时限：2025-06-30）" in body


def test_branch_bs_digest_has_no_overdue_section(answered):
    t = answered
    site_services.monthly_digest_send(organization_ids=[t.branch_b.pk], year=2025, month=6)
    digest = Notification.objects.get(template="members_monthly_digest", channel="inapp")
    body = render_message(digest).body
    assert "本月辖区居民微心愿：收到 1 个，实现 1 个" in body  # w5, created and fulfilled on 1 June
    assert "活动问卷：平均 2 分（1 份）" in body
    assert "居民评价" not in body  # w5 was never rated
    assert "逾期" not in body


def test_a_median_under_three_minutes_shows_as_zero_hours(client, street):
    """Regression: `|default` took 0.0 for empty and printed the raw duration instead."""
    from demands.models import MicroWish

    from .conftest import _wish, at

    MicroWish.objects.all().delete()
    _wish("claimed", street.community_b, street.secretary_b, street.b1, at(8, 1), at(8, 1, 12), at(8, 1, 12))
    MicroWish.objects.update(claimed_at=at(8, 1, 12) + timedelta(minutes=2))
    client.force_login(street.secretary_b)
    page = client.get("/dashboard/?year=2025").content.decode()
    assert '<p class="figure-value mb-0" id="fig-to-claim">0.0</p>' in page
    assert '<p class="figure-value mb-0" id="fig-to-fulfil">—</p>' in page
