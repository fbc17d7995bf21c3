"""Activity state from time.

What a person sees of an activity is `Activity.phase(now)` — 未开放报名, 报名中, 报名中（可候补）, 报名截止, 进行中,
已结束, 已取消 — derived from its times, its stored status, its project and its seats; the activity page, the brand
page, /projects/, /me/activities/ and the admin list all show it, and the sign-up button is there exactly when it says
报名中. A cached public page is not served past the next phase change. A new activity gets a sign-up window that makes
sense for its start: a start in the past is refused, a start soon opens sign-up now and closes it at the start.

Time is frozen with `clock` (tests/conftest.py) at a fixed moment, never the real clock or its weekday."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from projects import selectors, services
from projects.models import Activity, ActivityPhase, ServiceProject
from projects.validators import check_activity_open
from tests.members.factories import MemberFactory
from tests.projects.factories import ProjectFactory
from tests.queries import count_queries

pytestmark = pytest.mark.django_db

SHANGHAI = ZoneInfo("Asia/Shanghai")
# A Thursday morning, local time.
FROZEN = datetime(2026, 12, 10, 10, 0, tzinfo=SHANGHAI)
SECOND = timedelta(seconds=1)


@pytest.fixture
def clock(clock):
    clock.now = FROZEN
    return clock


@pytest.fixture
def windows(org_tree, clock):
    """Branch A's activity on Saturday 09:00–11:00 (local), 2 seats; sign-up from Friday 08:00 to 20:00 on Friday,
    free cancellation until Friday 12:00 — every moment a different one."""
    starts_at = datetime(2026, 12, 12, 9, 0, tzinfo=SHANGHAI)
    return services.activity_create(
        project=ProjectFactory(organization=org_tree.branch_a),
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=2),
        capacity=2,
        signup_opens_at=datetime(2026, 12, 11, 8, 0, tzinfo=SHANGHAI),
        signup_closes_at=datetime(2026, 12, 11, 20, 0, tzinfo=SHANGHAI),
        cancel_cutoff_at=datetime(2026, 12, 11, 12, 0, tzinfo=SHANGHAI),
    )


def _fresh(activity: Activity) -> Activity:
    """The activity as a page reads it (with its project and seat counts)."""
    return selectors.activity_for_page(None, activity.pk)


def _accepts(activity: Activity, now: datetime) -> bool:
    try:
        check_activity_open(activity, now)
    except ValidationError:
        return False
    return True


# --- The phase, at each of its edges ------------------------------------------------------------------------------


def test_each_phase_starts_at_its_moment(windows):
    a = _fresh(windows)
    expected = [
        (a.signup_opens_at - SECOND, ActivityPhase.NOT_OPEN, a.signup_opens_at),
        (a.signup_opens_at, ActivityPhase.OPEN, a.signup_closes_at),
        (a.signup_closes_at - SECOND, ActivityPhase.OPEN, a.signup_closes_at),
        (a.signup_closes_at, ActivityPhase.CLOSED, a.starts_at),
        (a.starts_at - SECOND, ActivityPhase.CLOSED, a.starts_at),
        (a.starts_at, ActivityPhase.IN_PROGRESS, a.ends_at),
        (a.ends_at - SECOND, ActivityPhase.IN_PROGRESS, a.ends_at),
        (a.ends_at, ActivityPhase.ENDED, None),
    ]
    for now, phase, changes_at in expected:
        assert (a.phase(now), a.phase_changes_at(now)) == (phase, changes_at), timezone.localtime(now)
        # The label and the service that takes sign-ups never disagree.
        assert a.phase(now).accepts_signups == _accepts(a, now), timezone.localtime(now)


def test_a_full_activity_is_open_for_the_waiting_list(windows, clock, member_a, member_b):
    clock.now = windows.signup_opens_at
    services.signup_create(activity=windows, member=member_a)
    assert _fresh(windows).phase(clock.now) == ActivityPhase.OPEN
    services.signup_create(activity=windows, member=member_b)
    full = _fresh(windows)
    assert full.phase(clock.now) == ActivityPhase.WAITLIST
    assert str(full.phase(clock.now).label) == "报名中（可候补）"
    assert full.phase(clock.now).accepts_signups
    waiting = services.signup_create(activity=windows, member=MemberFactory(organization=member_a.organization))
    assert waiting.status == "waitlisted"


def test_cancelled_is_cancelled_whatever_the_time(windows, clock, secretary_a):
    services.activity_cancel(activity=windows, actor=secretary_a)
    a = _fresh(windows)
    for now in (a.signup_opens_at - SECOND, a.signup_opens_at, a.starts_at, a.ends_at + timedelta(days=1)):
        assert a.phase(now) == ActivityPhase.CANCELLED and a.phase_changes_at(now) is None
        assert not a.phase(now).accepts_signups and not _accepts(a, now)


def test_a_project_not_published_takes_no_sign_ups(windows):
    a = _fresh(windows)
    for status in (ServiceProject.Status.DRAFT, ServiceProject.Status.CLOSED):
        a.project.status = status
        assert a.phase(a.signup_opens_at) == ActivityPhase.NOT_OPEN
        assert not _accepts(a, a.signup_opens_at)
        assert a.phase(a.starts_at) == ActivityPhase.IN_PROGRESS


def test_attendance_taken_during_the_activity_keeps_it_in_progress_until_its_end(windows, clock, member_a, secretary_a):
    clock.now = windows.signup_opens_at
    signup = services.signup_create(activity=windows, member=member_a)
    clock.now = windows.starts_at + timedelta(minutes=30)
    services.attendance_submit(activity=windows, marks={signup.pk: ("attended", "0.5")}, actor=secretary_a)
    a = _fresh(windows)
    assert a.status == Activity.Status.COMPLETED
    assert a.phase(clock.now) == ActivityPhase.IN_PROGRESS
    assert a.phase(a.ends_at) == ActivityPhase.ENDED


# --- Regression: a started activity said 报名中 above 该活动现在不能报名 ---------------------------------------------


def test_a_started_activity_shows_in_progress_and_no_sign_up_button(client, windows, clock, member_a):
    url = reverse("projects:activity_detail", args=[windows.pk])
    clock.now = windows.starts_at + timedelta(minutes=1)
    client.force_login(member_a.user)  # now: a session opened two days earlier would have expired
    html = client.get(url).content.decode()
    assert "报名中" not in html
    assert 'data-phase="in_progress"' in html and ">进行中<" in html
    assert 'id="signup-form"' not in html and "该活动现在不能报名" in html
    clock.now = windows.signup_opens_at  # while open: the label and the button together
    html = client.get(url).content.decode()
    assert 'data-phase="open"' in html and 'id="signup-form"' in html


def test_anonymous_visitors_are_offered_sign_in_only_while_sign_up_is_open(windows, clock):
    url = reverse("projects:activity_detail", args=[windows.pk])
    clock.now = windows.signup_opens_at
    assert "登录后报名" in Client().get(url).content.decode()
    clock.now = windows.signup_closes_at
    html = Client().get(url).content.decode()
    assert "登录后报名" not in html and 'data-phase="closed"' in html and ">报名截止<" in html


# --- Cached public pages follow the clock -------------------------------------------------------------------------


def test_a_cached_page_is_not_served_after_the_next_phase_change(windows, clock):
    # Open, and the closing within every page's timeout (the list's is a minute: projects/views.py LIST_TIMEOUT)
    clock.now = windows.signup_closes_at - timedelta(seconds=30)
    pages = {
        "activity": reverse("projects:activity_detail", args=[windows.pk]),
        "brand": reverse("projects:project_detail", args=[windows.project.slug]),
        "list": reverse("projects:project_list"),
    }
    assert ">报名中<" in Client().get(pages["activity"]).content.decode()
    for url in pages.values():
        assert 'data-phase="open"' in Client().get(url).content.decode(), url
    clock.now = windows.signup_closes_at - SECOND
    for url in pages.values():  # still the cached copy, at no cost
        assert count_queries(lambda url=url: Client().get(url))[0] == 0, url
    clock.now = windows.signup_closes_at
    html = Client().get(pages["activity"]).content.decode()
    assert ">报名截止<" in html and ">报名中<" not in html
    for url in pages.values():
        html = Client().get(url).content.decode()
        assert 'data-phase="closed"' in html and 'data-phase="open"' not in html, url
    clock.now = windows.starts_at
    assert 'data-phase="in_progress"' in Client().get(pages["activity"]).content.decode()
    # Started: no longer an upcoming activity of the brand page or the list.
    assert f'id="activity-{windows.pk}"' not in Client().get(pages["brand"]).content.decode()
    assert "暂无近期活动" in Client().get(pages["list"]).content.decode()


# --- Every page shows the same phase ------------------------------------------------------------------------------


@pytest.fixture
def four(org_tree, clock, member_a):
    """Four upcoming activities of one project on Saturday, each in another phase now (Thursday 10:00): open, full,
    closed early, and not open yet."""
    project = ProjectFactory(organization=org_tree.branch_a, slug="four", title="四场")
    saturday = datetime(2026, 12, 12, 8, 0, tzinfo=SHANGHAI)

    def at(hour, **windows):
        starts_at = saturday + timedelta(hours=hour)
        return services.activity_create(
            project=project, starts_at=starts_at, ends_at=starts_at + timedelta(hours=1), capacity=1, **windows
        )

    full = at(0)
    services.signup_create(activity=full, member=MemberFactory(organization=org_tree.branch_a))
    return {
        "full": full,
        "open": at(2),
        "closed": at(
            4,
            signup_opens_at=FROZEN - timedelta(days=2),
            signup_closes_at=FROZEN - timedelta(hours=1),
            cancel_cutoff_at=FROZEN - timedelta(hours=1),
        ),
        "later": at(
            6,
            signup_opens_at=FROZEN + timedelta(days=1),
            signup_closes_at=saturday + timedelta(hours=5),
            cancel_cutoff_at=saturday,
        ),
        "project": project,
    }


def _phase_of(html: str, anchor: str) -> str:
    """The data-phase of the first phase badge after `anchor`."""
    rest = html[html.index(anchor) :]
    return rest[rest.index('data-phase="') + len('data-phase="') :].split('"', 1)[0]


def test_the_brand_page_shows_each_upcoming_activitys_phase(client, four):
    html = client.get(reverse("projects:project_detail", args=["four"])).content.decode()
    for name, phase in (("full", "waitlist"), ("open", "open"), ("closed", "closed"), ("later", "not_open")):
        assert _phase_of(html, f'id="activity-{four[name].pk}"') == phase, name
    assert "报名中（可候补）" in html and "未开放报名" in html and "报名截止" in html


def test_the_list_shows_the_next_activitys_phase(client, four, clock):
    html = client.get(reverse("projects:project_list")).content.decode()
    assert _phase_of(html, f'id="project-{four["project"].pk}"') == "waitlist"
    clock.now = four["full"].starts_at  # the full one has begun: the next is the open one
    html = client.get(reverse("projects:project_list")).content.decode()
    assert _phase_of(html, f'id="project-{four["project"].pk}"') == "open"


def test_my_activities_show_the_phase(client, four, member_a):
    services.signup_create(activity=four["open"], member=member_a)  # now full: 1 seat
    services.signup_create(activity=four["full"], member=member_a)  # waitlisted
    client.force_login(member_a.user)
    html = client.get(reverse("projects:my_activities")).content.decode()
    assert _phase_of(html, 'id="upcoming"') == "waitlist"
    assert _phase_of(html, 'id="waitlisted"') == "waitlist"


def test_the_admin_list_shows_the_phase_not_the_stored_status(client, four, clock, secretary_a):
    running = services.activity_create(
        project=four["project"],
        starts_at=FROZEN + timedelta(minutes=10),
        ends_at=FROZEN + timedelta(hours=2),
        capacity=3,
    )
    clock.now = FROZEN + timedelta(minutes=20)
    client.force_login(secretary_a)
    response = client.get(reverse("admin:projects_activity_changelist"))
    html = response.content.decode()
    phases = {str(obj.pk): obj.phase(clock.now) for obj in response.context["cl"].result_list}
    assert phases[str(running.pk)] == ActivityPhase.IN_PROGRESS
    assert phases[str(four["later"].pk)] == ActivityPhase.NOT_OPEN
    for label in ("进行中", "报名中（可候补）", "报名截止", "未开放报名"):
        assert label in html, label
    change = client.get(reverse("admin:projects_activity_change", args=[running.pk])).content.decode()
    assert "进行中" in change and "报名中" not in change


# --- The sign-up window of a new activity -------------------------------------------------------------------------


def _admin_post(start: datetime, **windows: datetime) -> dict:
    local = timezone.localtime(start)
    end = local + timedelta(hours=2)
    data = {
        "title": "",
        "starts_at_0": local.date().isoformat(),
        "starts_at_1": local.time().isoformat(),
        "ends_at_0": end.date().isoformat(),
        "ends_at_1": end.time().isoformat(),
        "capacity": "20",
        "place": "",
        "signups-TOTAL_FORMS": "0",
        "signups-INITIAL_FORMS": "0",
    }
    for name, value in windows.items():
        value = timezone.localtime(value)
        data[f"{name}_0"], data[f"{name}_1"] = value.date().isoformat(), value.time().isoformat()
    return data


def test_the_admin_refuses_an_activity_that_has_already_started(client, org_tree, clock, secretary_a):
    """The reported bug: entered 30 minutes after its start, it got a sign-up window in the past."""
    project = ProjectFactory(organization=org_tree.branch_a)
    client.force_login(secretary_a)
    response = client.post(
        reverse("admin:projects_activity_add"), {"project": project.pk, **_admin_post(FROZEN - timedelta(minutes=30))}
    )
    assert response.status_code == 200
    assert response.context["adminform"].form.errors["starts_at"] == ["开始时间已过，请填写将来的时间。"]
    assert not Activity.objects.exists()
    # Explicit windows do not make a past start acceptable in the admin either.
    response = client.post(
        reverse("admin:projects_activity_add"),
        {
            "project": project.pk,
            **_admin_post(
                FROZEN - timedelta(minutes=30),
                signup_opens_at=FROZEN - timedelta(days=1),
                signup_closes_at=FROZEN - timedelta(hours=1),
                cancel_cutoff_at=FROZEN - timedelta(hours=1),
            ),
        },
    )
    assert response.status_code == 200 and "starts_at" in response.context["adminform"].form.errors
    assert not Activity.objects.exists()


def test_the_admin_opens_sign_up_now_for_an_activity_starting_soon(client, org_tree, clock, secretary_a):
    project = ProjectFactory(organization=org_tree.branch_a)
    client.force_login(secretary_a)
    start = FROZEN + timedelta(minutes=30)
    response = client.post(reverse("admin:projects_activity_add"), {"project": project.pk, **_admin_post(start)})
    assert response.status_code == 302
    activity = Activity.objects.get()
    assert (activity.signup_opens_at, activity.signup_closes_at, activity.cancel_cutoff_at) == (FROZEN, start, FROZEN)
    assert _fresh(activity).phase(FROZEN) == ActivityPhase.OPEN


def test_the_admin_extends_the_sign_up_window_of_an_existing_activity(client, windows, clock, secretary_a):
    clock.now = windows.signup_closes_at + timedelta(hours=1)  # closed early; the organizer wants more sign-ups
    assert _fresh(windows).phase(clock.now) == ActivityPhase.CLOSED
    client.force_login(secretary_a)
    url = reverse("admin:projects_activity_change", args=[windows.pk])
    data = _admin_post(
        windows.starts_at,
        signup_opens_at=windows.signup_opens_at,
        signup_closes_at=windows.starts_at,
        cancel_cutoff_at=windows.cancel_cutoff_at,
    )
    response = client.post(url, data)
    assert response.status_code == 302, response.context and response.context["adminform"].form.errors
    assert _fresh(windows).phase(clock.now) == ActivityPhase.OPEN
    # A week later, with a new window: the start and the window move together.
    later = windows.starts_at + timedelta(days=7)
    response = client.post(
        url,
        _admin_post(
            later,
            signup_opens_at=clock.now,
            signup_closes_at=later - timedelta(hours=1),
            cancel_cutoff_at=later - timedelta(days=1),
        ),
    )
    assert response.status_code == 302
    windows.refresh_from_db()
    assert (windows.starts_at, windows.signup_closes_at) == (later, later - timedelta(hours=1))
    # A window past the start is still a clear error, on its field.
    response = client.post(url, _admin_post(later, signup_closes_at=later + timedelta(minutes=1)))
    assert response.context["adminform"].form.errors["signup_closes_at"] == ["报名截止不能晚于活动开始。"]


def test_the_admin_may_edit_a_started_activity_but_not_move_it_into_the_past(client, windows, clock, secretary_a):
    clock.now = windows.starts_at + timedelta(minutes=10)
    client.force_login(secretary_a)
    url = reverse("admin:projects_activity_change", args=[windows.pk])
    same = _admin_post(
        windows.starts_at,
        signup_opens_at=windows.signup_opens_at,
        signup_closes_at=windows.signup_closes_at,
        cancel_cutoff_at=windows.cancel_cutoff_at,
    )
    assert client.post(url, {**same, "place": "新地点"}).status_code == 302  # a new place, the same start
    earlier = windows.starts_at - timedelta(hours=1)
    response = client.post(url, {**same, **_admin_post(earlier)})
    assert response.context["adminform"].form.errors["starts_at"] == ["开始时间已过，请填写将来的时间。"]


def test_the_service_gives_no_default_window_to_a_past_start(org_tree, clock):
    project = ProjectFactory(organization=org_tree.branch_a)
    start = FROZEN - timedelta(minutes=30)
    with pytest.raises(ValidationError) as refused:
        services.activity_create(project=project, starts_at=start, ends_at=start + timedelta(hours=2), capacity=5)
    assert refused.value.message_dict == {"starts_at": ["开始时间已过，请填写将来的时间。"]}
    # History entered with its own windows (the demo's past activities) stays possible.
    past = services.activity_create(
        project=project,
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        capacity=5,
        signup_opens_at=start - timedelta(days=7),
        signup_closes_at=start,
        cancel_cutoff_at=start - timedelta(days=1),
    )
    assert _fresh(past).phase(FROZEN) == ActivityPhase.IN_PROGRESS
    with pytest.raises(ValidationError):
        services.activity_update(
            activity=past,
            starts_at=start - timedelta(days=1),
            ends_at=start - timedelta(days=1) + timedelta(hours=2),
            capacity=5,
            place=past.place,
            title="",
            signup_opens_at=start - timedelta(days=8),
            signup_closes_at=start - timedelta(days=1),
            cancel_cutoff_at=start - timedelta(days=2),
        )


def test_recurring_generation_follows_the_same_rule(org_tree, clock):
    """Thursday 10:00 now: today's 10:30 occurrence opens now and closes at its start; 09:30 is not generated."""
    soon = ProjectFactory(
        organization=org_tree.branch_a,
        recurrence=ServiceProject.Recurrence.WEEKLY,
        recurrence_weekday=FROZEN.weekday(),
        recurrence_time=time(10, 30),
        recurrence_minutes=60,
        recurrence_capacity=4,
    )
    gone = ProjectFactory(
        organization=org_tree.branch_a,
        recurrence=ServiceProject.Recurrence.WEEKLY,
        recurrence_weekday=FROZEN.weekday(),
        recurrence_time=time(9, 30),
        recurrence_minutes=60,
        recurrence_capacity=4,
    )
    created = services.activities_generate(project=soon)
    today = created[0]
    assert today.starts_at == FROZEN + timedelta(minutes=30)
    assert (today.signup_opens_at, today.signup_closes_at, today.cancel_cutoff_at) == (FROZEN, today.starts_at, FROZEN)
    for activity in created:
        assert (activity.signup_opens_at, activity.signup_closes_at, activity.cancel_cutoff_at) == (
            services.activity_windows(starts_at=activity.starts_at, now=FROZEN)
        )
    assert all(
        timezone.localtime(a.starts_at).date() > FROZEN.date() for a in services.activities_generate(project=gone)
    )
