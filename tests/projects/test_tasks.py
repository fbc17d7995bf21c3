"""Projects' scheduled work: activity reminders at T-24 h and T-2 h, waitlist promotion, recurring
generation, and the kinds of the projects' notices."""

from datetime import timedelta

import pytest

from members import services as member_services
from notifications.models import Notification
from projects import selectors, services, tasks
from projects.models import Activity, SignUp
from tests import timing
from tests.members.factories import MemberFactory
from tests.projects.conftest import started_ago
from tests.projects.factories import ActivityFactory

REMINDER = "projects_activity_reminder"


def reminded(hours_before=None):
    """(member id, activity id, lead) of the in-app reminders written, read from their dedupe keys."""
    keys = Notification.objects.filter(template=REMINDER, channel="inapp").values_list("dedupe_key", flat=True)
    out = set()
    for key in keys:
        _app, _what, lead, activity_id, member_id, *_rest = key.split(":")
        if hours_before is None or lead == f"{hours_before}h":
            out.add((int(member_id), int(activity_id), lead))
    return out


@pytest.fixture
def now(clock):
    return clock.now


@pytest.fixture
def at(org_tree, member_a, now):
    """`at(delta)`: an activity of branch A that member_a has signed up for, starting `delta` after `now`."""
    made = []

    def make(delta, member=member_a):
        with timing.earlier(timedelta(days=3)):  # made and signed up for three days before
            activity = ActivityFactory(project__organization=org_tree.branch_a, starts_at=now + delta)
            signup = services.signup_create(activity=activity, member=member)
        made.append(activity)
        return signup

    return make


def _reschedule(activity, starts_at):
    """The organizer moves the activity (its sign-up closing and free cancellation with it)."""
    services.activity_update(
        activity=activity,
        starts_at=starts_at,
        ends_at=starts_at + (activity.ends_at - activity.starts_at),
        capacity=activity.capacity,
        place=activity.place,
        title=activity.title,
        signup_opens_at=activity.signup_opens_at,
        signup_closes_at=starts_at,
        cancel_cutoff_at=min(activity.cancel_cutoff_at, starts_at),
    )


def selected(hours_before, now):
    return set(selectors.signups_to_remind(hours_before, now).values_list("pk", flat=True))


def test_reminder_windows_at_their_edges(at, now, org_tree):
    def signed_up(delta):  # a member each: one member's activities may not overlap
        return at(delta, member=MemberFactory(organization=org_tree.branch_a))

    s = {
        "now": signed_up(timedelta(0)),  # starting now: too late for any reminder
        "1m": signed_up(timedelta(minutes=1)),
        "2h": signed_up(timedelta(hours=2)),  # the T-2 h edge: inside T-2 h, outside T-24 h
        "2h1m": signed_up(timedelta(hours=2, minutes=1)),
        "24h": signed_up(timedelta(hours=24)),  # inside T-24 h
        "24h1m": signed_up(timedelta(hours=24, minutes=1)),
        "past": signed_up(-timedelta(hours=1)),
    }
    assert selected(2, now) == {s["1m"].pk, s["2h"].pk}
    assert selected(24, now) == {s["2h1m"].pk, s["24h"].pk}
    with pytest.raises(ValueError):
        selectors.signups_to_remind(12, now)


def test_nobody_is_reminded_of_a_cancelled_signup_or_activity_a_waitlist_place_or_as_an_inactive_member(
    at, org_tree, member_a, now
):
    cancelled = at(timedelta(hours=5))
    services.signup_cancel(signup=cancelled)
    in_cancelled_activity = at(timedelta(hours=6))
    services.activity_cancel(activity=in_cancelled_activity.activity, actor=None)
    other = MemberFactory(organization=org_tree.branch_a)
    at(timedelta(hours=7), member=other)
    member_services.member_deactivate(member=other, actor=None, reason="外出务工")
    full = at(timedelta(hours=8))
    Activity.objects.filter(pk=full.activity_id).update(capacity=1)
    waiting = services.signup_create(activity=full.activity, member=MemberFactory(organization=org_tree.branch_a))
    assert waiting.status == SignUp.Status.WAITLISTED

    assert selected(24, now) == {full.pk}


def test_send_writes_one_reminder_per_member_lead_and_start(at, member_a, now):
    soon = at(timedelta(hours=1))
    later = at(timedelta(hours=20))
    assert services.activity_reminders_send(signup_ids=[soon.pk, later.pk], hours_before=2) > 0
    assert services.activity_reminders_send(signup_ids=[soon.pk, later.pk], hours_before=24) > 0
    assert reminded() == {(member_a.pk, soon.activity_id, "2h"), (member_a.pk, later.activity_id, "24h")}
    kinds = set(Notification.objects.filter(template=REMINDER).values_list("kind", flat=True))
    assert kinds == {"activity_reminder"}
    n = Notification.objects.get(template=REMINDER, channel="inapp", dedupe_key__contains=":2h:")
    assert n.context["name"] == member_a.name and n.context["activity"] == soon.activity.display_title

    # Again: nothing new. The activity moved to another time: reminded again.
    total = Notification.objects.count()
    assert services.activity_reminders_send(signup_ids=[soon.pk, later.pk], hours_before=2) == 0
    assert Notification.objects.count() == total
    _reschedule(soon.activity, now + timedelta(minutes=90))
    assert services.activity_reminders_send(signup_ids=[soon.pk], hours_before=2) > 0
    assert Notification.objects.filter(template=REMINDER, channel="inapp", dedupe_key__contains=":2h:").count() == 2


def test_the_planner_task_run_twice_sends_nothing_new(at, member_a, now):
    soon = at(timedelta(hours=1, minutes=30))
    tomorrow = at(timedelta(hours=12))
    at(timedelta(days=2))

    tasks.plan_activity_reminders.delay(hours_before=24)
    tasks.plan_activity_reminders.delay(hours_before=2)
    expected = {(member_a.pk, tomorrow.activity_id, "24h"), (member_a.pk, soon.activity_id, "2h")}
    assert reminded() == expected
    total = Notification.objects.count()

    tasks.plan_activity_reminders.delay(hours_before=24)
    tasks.plan_activity_reminders.delay(hours_before=2)
    assert reminded() == expected
    assert Notification.objects.count() == total


# --- Waitlist promotion -----------------------------------------------------------------------------------------


def test_promote_waitlists_fills_free_seats_in_order_and_tells_each_member_once(activity_a, org_tree, member_a):
    Activity.objects.filter(pk=activity_a.pk).update(capacity=1)
    services.signup_create(activity=activity_a, member=member_a)
    first = services.signup_create(activity=activity_a, member=MemberFactory(organization=org_tree.branch_a))
    second = services.signup_create(activity=activity_a, member=MemberFactory(organization=org_tree.branch_a))
    assert first.status == second.status == SignUp.Status.WAITLISTED
    assert tasks.promote_waitlists.delay().get() == 0  # no free seat

    # A seat appears without a promotion (e.g. the capacity raised by hand in the database).
    Activity.objects.filter(pk=activity_a.pk).update(capacity=2)
    assert tasks.promote_waitlists.delay().get() == 1
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == SignUp.Status.CONFIRMED and second.status == SignUp.Status.WAITLISTED
    notices = Notification.objects.filter(template="projects_waitlist_promoted")
    assert list(notices.values_list("recipient_user", "kind")) == [(first.member.user_id, "activity_reminder")]

    assert tasks.promote_waitlists.delay().get() == 0
    assert notices.count() == 1


def test_promote_waitlists_leaves_started_and_cancelled_activities(clock, activity_a, org_tree, member_a):
    Activity.objects.filter(pk=activity_a.pk).update(capacity=1)
    services.signup_create(activity=activity_a, member=member_a)
    waiting = services.signup_create(activity=activity_a, member=MemberFactory(organization=org_tree.branch_a))
    Activity.objects.filter(pk=activity_a.pk).update(capacity=2)
    started_ago(clock, activity_a)
    assert services.waitlists_promote() == 0
    waiting.refresh_from_db()
    assert waiting.status == SignUp.Status.WAITLISTED


def test_cancellation_notices_have_the_activity_reminder_kind(activity_a, member_a):
    services.signup_create(activity=activity_a, member=member_a)
    services.activity_cancel(activity=activity_a, actor=None, reason="下雨")
    notice = Notification.objects.get(template="projects_activity_cancelled")
    assert notice.kind == "activity_reminder"


def test_generate_recurring_activities_is_registered(db):
    assert tasks.generate_recurring_activities.name == "projects.tasks.generate_recurring_activities"
    assert tasks.generate_recurring_activities.delay(weeks=2).get() == 0
