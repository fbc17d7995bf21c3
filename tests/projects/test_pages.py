"""The projects pages: browsing with filters, brand pages (figures, QR, Open Graph), activity pages with sign-up,
cancel and check-in, the attendance sheet, "my activities", self-reports, the calendar feed; query counts."""

import re
from datetime import time, timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from incentives.models import LedgerEntry
from members.models import ServiceRecord, Tag
from projects import services
from projects.models import Post, ProjectCategory, SelfReport, ServiceProject, SignUp, target_groups_mask
from tests.members.factories import MemberFactory
from tests.projects.conftest import started_ago
from tests.projects.factories import ActivityFactory, ProjectFactory, days_ahead_at
from tests.queries import assert_constant_queries
from tests.training.factories import CourseFactory, SessionFactory
from training import services as training_services
from training.models import Enrollment

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


# --- /projects/ ---------------------------------------------------------------------------------------------------


@pytest.fixture
def catalogue(org_tree):
    """Three published projects and a draft: 助老 (direct, elderly, needs 理发), 关爱儿童 (team, children, full),
    平安巡逻 in community B (grid)."""
    haircut = Tag.objects.create(kind=Tag.Kind.SKILL, name="理发")
    elderly = ProjectFactory(
        organization=org_tree.branch_a,
        title="银龄关爱",
        slug="elderly",
        target_groups=target_groups_mask(["elderly_alone"]),
        skills_wanted=[haircut],
    )
    children = ProjectFactory(
        organization=org_tree.branch_a,
        title="四点半课堂",
        slug="after-school",
        service_mode=ServiceProject.Mode.TEAM,
        category=ProjectCategory.objects.get(name="关爱儿童"),
        target_groups=target_groups_mask(["left_behind_children"]),
    )
    patrol = ProjectFactory(
        organization=org_tree.branch_b,
        title="网格巡逻",
        slug="patrol",
        service_mode=ServiceProject.Mode.GRID,
        community=org_tree.community_b,
        category=ProjectCategory.objects.get(name="平安巡逻"),
    )
    draft = ProjectFactory(organization=org_tree.branch_a, title="筹备中的项目", slug="draft", status="draft")
    open_activity = ActivityFactory(project=elderly)
    full = ActivityFactory(project=children, capacity=1)
    services.signup_create(activity=full, member=MemberFactory(organization=org_tree.branch_a))
    later = ActivityFactory(project=patrol, starts_at=open_activity.starts_at + timedelta(days=20))
    return {"elderly": elderly, "children": children, "patrol": patrol, "draft": draft, "later": later, "tag": haircut}


def listed(client, **params) -> list[str]:
    response = client.get(reverse("projects:project_list"), params)
    assert response.status_code == 200
    return sorted(p.title for p in response.context["page"].object_list)


def test_list_shows_published_projects_only(client, catalogue):
    assert listed(client) == sorted(["四点半课堂", "银龄关爱", "网格巡逻"])


def test_list_filters(client, catalogue, org_tree):
    assert listed(client, mode="grid") == ["网格巡逻"]
    assert listed(client, category=catalogue["children"].category_id) == ["四点半课堂"]
    assert listed(client, target_group="elderly_alone") == ["银龄关爱"]
    assert listed(client, community=org_tree.community_b.pk) == ["网格巡逻"]
    assert listed(client, seats="on") == sorted(["银龄关爱", "网格巡逻"])
    soon = timezone.localdate() + timedelta(days=10)
    assert listed(client, date_from=soon.isoformat()) == ["网格巡逻"]
    assert listed(client, date_to=soon.isoformat()) == sorted(["四点半课堂", "银龄关爱"])
    assert listed(client, mode="nonsense", date_from="not-a-date") == sorted(["四点半课堂", "银龄关爱", "网格巡逻"])


def test_matches_my_skills_or_interests(client, catalogue, member_a):
    client.force_login(member_a.user)
    assert listed(client, matches="on") == []
    member_a.skills.add(catalogue["tag"])
    assert listed(client, matches="on") == ["银龄关爱"]
    html = client.get(reverse("projects:project_list")).content.decode()
    assert html.count("match-badge") == 1


def test_list_queries_are_constant(client, org_tree, member_a):
    client.force_login(member_a.user)
    url = reverse("projects:project_list") + "?seats=on&matches=on"
    tag = Tag.objects.create(kind=Tag.Kind.SKILL, name="维修")
    member_a.skills.add(tag)

    def add(n):
        for _i in range(n):
            project = ProjectFactory(organization=org_tree.branch_a, skills_wanted=[tag])
            ActivityFactory(project=project)

    assert_constant_queries(client, url, add, small=2, large=12)


# --- Brand page ---------------------------------------------------------------------------------------------------


def test_brand_page_figures_qr_and_open_graph(clock, client, org_tree, secretary_a):
    project = ProjectFactory(
        organization=org_tree.branch_a, slug="silver", brand_name="银龄关爱", slogan="让老人不孤单"
    )
    past = ActivityFactory(project=project)
    attendees = MemberFactory.create_batch(3, organization=org_tree.branch_a)
    signups = [services.signup_create(activity=past, member=m) for m in attendees]
    started_ago(clock, past, timedelta(hours=3))
    services.attendance_submit(
        activity=past,
        marks={signups[0].pk: ("attended", "2"), signups[1].pk: ("attended", "1.5"), signups[2].pk: ("no_show", None)},
        actor=secretary_a,
    )
    upcoming = ActivityFactory(project=project)

    response = client.get(reverse("projects:project_detail", args=["silver"]))
    html = response.content.decode()
    figures = response.context["figures"]
    assert (figures.activities, figures.members, figures.hours) == (1, 2, Decimal("3.50"))
    assert f'id="activity-{upcoming.pk}"' in html and f'id="activity-{past.pk}"' not in html
    assert '<meta property="og:title" content="银龄关爱">' in html
    assert 'property="og:url" content="http://testserver/projects/silver/"' in html
    assert 'src="/projects/silver/qr.svg"' in html

    qr = client.get(reverse("projects:project_qr", args=["silver"]))
    assert qr["Content-Type"] == "image/svg+xml" and qr.content.lstrip().startswith(b"<?xml") and b"<svg" in qr.content


def test_drafts_are_404_for_the_public_and_visible_in_scope(client, org_tree, secretary_a, secretary_b):
    ProjectFactory(organization=org_tree.branch_a, slug="draft", status="draft")
    url = reverse("projects:project_detail", args=["draft"])
    assert client.get(url).status_code == 404
    client.force_login(secretary_b)
    assert client.get(url).status_code == 404
    client.force_login(secretary_a)
    assert client.get(url).status_code == 200


def test_brand_page_queries_are_constant(client, org_tree, member_a):
    client.force_login(member_a.user)
    project = ProjectFactory(organization=org_tree.branch_a, slug="busy")
    counter = iter(range(100))

    def add(n):
        for i in (next(counter) for _n in range(n)):
            activity = ActivityFactory(project=project, starts_at=timezone.now() + timedelta(days=3, hours=i * 3 + 1))
            services.signup_create(activity=activity, member=MemberFactory(organization=org_tree.branch_a))
            services.post_save(
                post=Post(
                    project=project, title=f"岗位{i}", weekday=i % 7, start_time=time(8 + i % 10), minutes=60, places=3
                )
            )

    assert_constant_queries(client, reverse("projects:project_detail", args=["busy"]), add, small=2, large=8)


def test_posts_on_the_brand_page_can_be_claimed(client, org_tree, member_a):
    project = ProjectFactory(organization=org_tree.branch_a, slug="posts")
    post = services.post_save(
        post=Post(project=project, title="周三下午陪伴", weekday=2, start_time=time(14), minutes=120, places=4)
    )
    client.force_login(member_a.user)
    url = reverse("projects:project_detail", args=["posts"])
    assert "已认领 0 / 4" in client.get(url).content.decode()
    response = client.post(reverse("projects:post_claim", args=[post.pk]))
    assert response.status_code == 302 and response.url == url
    html = client.get(url).content.decode()
    assert "已认领 1 / 4" in html and "我已认领" in html
    assert "周三下午陪伴" in client.get(reverse("projects:my_activities")).content.decode()


# --- Activity page ------------------------------------------------------------------------------------------------


def test_member_signs_up_is_waitlisted_and_cancels(client, org_tree, member_a, member_b):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=1)
    url = reverse("projects:activity_detail", args=[activity.pk])
    client.force_login(member_b.user)
    client.post(reverse("projects:activity_signup", args=[activity.pk]))
    client.force_login(member_a.user)
    assert "报名候补" in client.get(url).content.decode()

    response = client.post(reverse("projects:activity_signup", args=[activity.pk]))
    assert response.status_code == 302 and response.url == url
    assert any("候补名单" in m for m in messages_of(response))
    assert "候补第 1 位" in client.get(url).content.decode()

    response = client.post(reverse("projects:activity_cancel_signup", args=[activity.pk]))
    assert any("已退出候补" in m for m in messages_of(response))
    assert SignUp.objects.get(member=member_a).status == "cancelled"


def test_sign_up_errors_are_messages_not_error_pages(client, org_tree, member_a):
    first = ActivityFactory(project__organization=org_tree.branch_a)
    clash = ActivityFactory(project__organization=org_tree.branch_a, starts_at=first.starts_at)
    client.force_login(member_a.user)
    client.post(reverse("projects:activity_signup", args=[first.pk]))
    response = client.post(reverse("projects:activity_signup", args=[clash.pk]))
    assert response.status_code == 302 and any("时间冲突" in m for m in messages_of(response))


def test_team_leader_signs_the_team_up_from_the_page(client, org_tree):
    from members import services as members_services

    leader, mate = MemberFactory.create_batch(2, organization=org_tree.branch_a)
    team = members_services.team_create(
        organization=org_tree.branch_a, name="红马甲", actor=None, leader=leader, members=[mate]
    )
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    client.force_login(leader.user)
    assert "全队报名" in client.get(reverse("projects:activity_detail", args=[activity.pk])).content.decode()
    response = client.post(reverse("projects:activity_signup", args=[activity.pk]), {"team": team.pk})
    assert any("2 名队员" in m for m in messages_of(response))
    assert SignUp.objects.filter(activity=activity, team=team, status="confirmed").count() == 2


def test_check_in_from_the_scanned_link(clock, client, org_tree, member_a, secretary_a):
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    services.signup_create(activity=activity, member=member_a)
    started_ago(clock, activity, timedelta(minutes=5))

    # The organizer's activity page links the check-in screen; the code is only there, behind a button.
    client.force_login(secretary_a)
    screen_url = reverse("projects:activity_checkin_screen", args=[activity.pk])
    page = client.get(reverse("projects:activity_detail", args=[activity.pk])).content.decode()
    assert screen_url in page and activity.checkin_code not in page
    screen = client.get(screen_url).content.decode()
    assert "checkin-qr" in screen and f'id="checkin-code" hidden>{activity.checkin_code}<' in screen
    qr = client.get(reverse("projects:activity_checkin_qr", args=[activity.pk]))
    assert qr["Content-Type"] == "image/svg+xml" and qr["Cache-Control"] == "private, no-store"

    client.force_login(member_a.user)
    checkin = reverse("projects:activity_checkin", args=[activity.pk])
    for url in (reverse("projects:activity_detail", args=[activity.pk]), checkin):
        assert activity.checkin_code not in client.get(url).content.decode()
    token = services.checkin_token(activity, timezone.now())
    scanned = client.get(f"{checkin}?t={token}").content.decode()
    assert f'value="{token}"' in scanned and "已扫描组织者的签到二维码" in scanned
    wrong = client.post(checkin, {"code": "12345x"})
    assert wrong.status_code == 200 and "签到码" in wrong.content.decode()
    response = client.post(checkin, {"token": token})
    assert response.status_code == 302 and any("签到成功" in m for m in messages_of(response))
    assert SignUp.objects.get(member=member_a).checked_in_at is not None


def test_check_in_attempts_are_limited_per_member_and_activity(clock, client, org_tree, member_a, member_b, settings):
    """The one check-in limit: CHECKIN_ATTEMPT_LIMIT attempts (10 an hour) per member and activity, right or wrong."""
    assert settings.CHECKIN_ATTEMPT_LIMIT == (10, 3600)
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    services.signup_create(activity=activity, member=member_a)
    services.signup_create(activity=activity, member=member_b)
    started_ago(clock, activity, timedelta(minutes=5))
    url = reverse("projects:activity_checkin", args=[activity.pk])
    wrong = "000000" if activity.checkin_code != "000000" else "111111"
    client.force_login(member_a.user)
    for _attempt in range(10):
        assert client.post(url, {"code": wrong}).status_code == 200
    refused = client.post(url, {"code": activity.checkin_code})
    assert refused.status_code == 429 and "尝试次数太多" in refused.content.decode()
    # Another member is not affected.
    client.force_login(member_b.user)
    assert client.post(url, {"code": activity.checkin_code}).status_code == 302


def test_activity_page_queries_are_constant(client, org_tree, member_a):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=5)
    client.force_login(member_a.user)
    url = reverse("projects:activity_detail", args=[activity.pk])

    def add(n):
        for member in MemberFactory.create_batch(n, organization=org_tree.branch_a):
            services.signup_create(activity=activity, member=member)

    assert_constant_queries(client, url, add, small=2, large=12)


# --- Attendance sheet ---------------------------------------------------------------------------------------------


def test_attendance_sheet_marks_in_bulk_and_is_idempotent(clock, client, org_tree, secretary_a):
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    here, away = MemberFactory.create_batch(2, organization=org_tree.branch_a)
    present = services.signup_create(activity=activity, member=here)
    absent = services.signup_create(activity=activity, member=away)
    started_ago(clock, activity, timedelta(minutes=15))
    services.signup_check_in(activity=activity, member=here, code=activity.checkin_code)
    started_ago(clock, activity, timedelta(hours=3))
    client.force_login(secretary_a)
    url = reverse("projects:attendance", args=[activity.pk])

    html = client.get(url).content.decode()
    ticked = {int(pk) for pk in re.findall(r'<input[^>]*id="attended-(\d+)"[^>]*\bchecked\b', html)}
    assert ticked == {present.pk}  # the checked-in member is proposed as present, the other not
    assert 'placeholder="1.75"' in html
    data = {f"mark-{present.pk}": "attended", f"hours-{present.pk}": "", f"mark-{absent.pk}": "no_show"}
    response = client.post(url, data)
    assert response.status_code == 302 and any("已到 1 人，缺席 1 人" in m for m in messages_of(response))
    client.post(url, data)  # again

    record = ServiceRecord.objects.get()
    assert record.hours == Decimal("1.75") and record.status == "verified"
    assert LedgerEntry.objects.count() == 1
    assert "已到（已确认）" in client.get(url).content.decode()


def test_attendance_sheet_shows_errors(clock, client, org_tree, secretary_a, member_a):
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    signup = services.signup_create(activity=activity, member=member_a)
    started_ago(clock, activity)
    client.force_login(secretary_a)
    response = client.post(
        reverse("projects:attendance", args=[activity.pk]), {f"mark-{signup.pk}": "attended", f"hours-{signup.pk}": "9"}
    )
    assert response.status_code == 200 and "不能超过活动时长" in response.content.decode()
    assert not ServiceRecord.objects.exists()


def test_attendance_sheet_queries_are_constant(client, org_tree, secretary_a):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=50)
    client.force_login(secretary_a)

    def add(n):
        for member in MemberFactory.create_batch(n, organization=org_tree.branch_a):
            services.signup_create(activity=activity, member=member)

    assert_constant_queries(client, reverse("projects:attendance", args=[activity.pk]), add, small=2, large=12)


# --- Member pages -------------------------------------------------------------------------------------------------


def test_my_activities_lists_upcoming_waitlisted_and_past(clock, client, org_tree, member_a, member_b):
    upcoming = ActivityFactory(project__organization=org_tree.branch_a, title="读报")
    full = ActivityFactory(
        project__organization=org_tree.branch_a, capacity=1, title="理发", starts_at=upcoming.ends_at
    )
    services.signup_create(activity=full, member=member_b)
    services.signup_create(activity=upcoming, member=member_a)
    services.signup_create(activity=full, member=member_a)
    with clock.back(timedelta(days=5)):  # signed up for five days ago; it took place two days ago
        past = ActivityFactory(project__organization=org_tree.branch_a, title="打扫", starts_at=days_ahead_at(3))
        services.signup_create(activity=past, member=member_a)
    client.force_login(member_a.user)
    response = client.get(reverse("projects:my_activities"))
    assert [s.activity.title for s in response.context["confirmed"]] == ["读报"]
    assert [(s.activity.title, s.rank) for s in response.context["waitlisted"]] == [("理发", 1)]
    assert [s.activity.title for s in response.context["past"]] == ["打扫"]


def test_self_report_form(client, member_a, secretary_a):
    client.force_login(member_a.user)
    url = reverse("projects:self_report")
    day = timezone.localdate() - timedelta(days=1)
    bad = client.post(
        url, {"date": day, "start": "09:00", "end": "10:00", "hours": "2", "place": "村委会", "content": "x"}
    )
    assert bad.status_code == 200 and "不能超过" in bad.content.decode() and not SelfReport.objects.exists()
    good = client.post(
        url, {"date": day, "start": "09:00", "end": "11:00", "hours": "2", "place": "村委会", "content": "助餐"}
    )
    assert good.status_code == 302
    report = SelfReport.objects.get()
    assert report.hours == Decimal("2.00") and report.status == "pending"


def test_calendar_feed_holds_exactly_the_confirmed_activities(client, org_tree, member_a, member_b):
    mine = ActivityFactory(project__organization=org_tree.branch_a, title="读报")
    waiting = ActivityFactory(
        project__organization=org_tree.branch_a, capacity=1, title="候补的", starts_at=mine.ends_at
    )
    services.signup_create(activity=waiting, member=member_b)
    services.signup_create(activity=waiting, member=member_a)
    cancelled = ActivityFactory(project__organization=org_tree.branch_a, title="取消的", starts_at=waiting.ends_at)
    services.signup_cancel(signup=services.signup_create(activity=cancelled, member=member_a))
    services.signup_create(activity=mine, member=member_a)
    ActivityFactory(project__organization=org_tree.branch_a, title="别人的")

    client.force_login(member_a.user)
    page = client.get(reverse("projects:my_calendar"))
    feed_url = page.context["feed_url"]
    client.logout()
    response = client.get(feed_url.replace("http://testserver", ""))
    assert response["Content-Type"].startswith("text/calendar")
    calendar = Calendar.from_ical(response.content)
    events = calendar.walk("VEVENT")
    assert [str(e["summary"]) for e in events] == ["读报"]
    assert events[0].decoded("dtstart") == mine.starts_at

    assert client.get(reverse("projects:calendar_feed", args=["wrong-token"])).status_code == 404
    client.force_login(member_a.user)
    client.post(reverse("projects:my_calendar"))  # a new address revokes the old one
    assert client.get(feed_url.replace("http://testserver", "")).status_code == 404


def test_calendar_feed_holds_the_enrolled_training_sessions(client, org_tree, member_a, member_b):
    """Step 18, item 5: a training session the member enrolled in is an event of the feed as an activity is; a
    cancelled enrollment, a cancelled session and other members' sessions are not."""
    course = CourseFactory(organization=org_tree.branch_a, title="急救培训")
    enrolled = SessionFactory(course=course, organizer=org_tree.branch_a, place="社区党群服务中心")
    online = SessionFactory(
        course=CourseFactory(organization=org_tree.branch_a, title="线上党课"),
        organizer=org_tree.branch_a,
        place="",
        online_url="https://meeting.example.cn/123",
        starts_at=enrolled.ends_at + timedelta(days=1),
        ends_at=enrolled.ends_at + timedelta(days=1, hours=2),
    )
    dropped = SessionFactory(course=course, organizer=org_tree.branch_a, starts_at=online.ends_at + timedelta(days=1))
    called_off = SessionFactory(course=course, organizer=org_tree.branch_a, starts_at=dropped.starts_at)
    others = SessionFactory(course=CourseFactory(organization=org_tree.branch_b), organizer=org_tree.branch_b)
    for session in (enrolled, online, dropped, called_off):
        training_services.enrollment_create(session=session, member=member_a)
    training_services.enrollment_create(session=others, member=member_b)
    training_services.enrollment_cancel(
        enrollment=Enrollment.objects.get(session=dropped, member=member_a), actor=member_a.user
    )
    training_services.session_cancel(session=called_off, actor=None, reason="场地维修")
    activity = ActivityFactory(project__organization=org_tree.branch_a, title="读报", starts_at=dropped.ends_at)
    services.signup_create(activity=activity, member=member_a)

    feed = services.calendar_feed_for(member=member_a)
    response = client.get(reverse("projects:calendar_feed", args=[feed.token]))
    events = Calendar.from_ical(response.content).walk("VEVENT")
    by_summary = {str(e["summary"]): e for e in events}
    assert sorted(by_summary) == sorted(["读报", "培训：急救培训", "培训：线上党课"])
    first = by_summary["培训：急救培训"]
    assert first.decoded("dtstart") == enrolled.starts_at and first.decoded("dtend") == enrolled.ends_at
    assert str(first["location"]) == "社区党群服务中心"
    assert str(first["url"]).endswith(reverse("training:session_detail", args=[enrolled.pk]))
    assert str(first["uid"]).startswith(f"training-{enrolled.pk}-enrollment-")
    online_event = by_summary["培训：线上党课"]
    assert str(online_event["location"]) == "https://meeting.example.cn/123"
    assert "https://meeting.example.cn/123" in str(online_event["description"])
    assert len({str(e["uid"]) for e in events}) == 3


def test_my_activities_and_calendar_queries_are_constant(client, org_tree, member_a):
    client.force_login(member_a.user)
    feed = services.calendar_feed_for(member=member_a)
    project = ProjectFactory(organization=org_tree.branch_a)
    counter = iter(range(1000))

    def add(n):
        for i in (next(counter) for _n in range(n)):
            starts_at = timezone.now() + timedelta(days=3, hours=3 * i + 1)
            services.signup_create(activity=ActivityFactory(project=project, starts_at=starts_at), member=member_a)
            post = services.post_save(
                post=Post(
                    project=project, title=f"岗位{i}", weekday=i % 7, start_time=time(i % 24), minutes=60, places=2
                )
            )
            services.post_claim(post=post, member=member_a)
            session = SessionFactory(
                course=CourseFactory(organization=org_tree.branch_a),
                organizer=org_tree.branch_a,
                starts_at=starts_at + timedelta(hours=2),
                ends_at=starts_at + timedelta(hours=3),
            )
            training_services.enrollment_create(session=session, member=member_a)

    assert_constant_queries(client, reverse("projects:my_activities"), add, small=2, large=8)
    assert_constant_queries(client, reverse("projects:calendar_feed", args=[feed.token]), add, small=2, large=8)
