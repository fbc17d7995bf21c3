"""What the site does when something happens elsewhere (connected in apps.SiteConfig.ready).

A failed sign-in counts against its address (password spraying: middleware.SignInAddressLimitMiddleware).

The member portal's page cache follows this app's tasks (connected in apps.SiteConfig.ready; see
core/member_cache.py): /me/ lists a member's open tasks — assigned to them, or to an organization they
administer — so saving or deleting a task drops its assignee's pages, and a reassignment its former assignee's too.
Who administers an organization is followed by the members app (its admins and secretary).

The secretaries' 需要您处理 on a dashboard page kept whole per person follows the rows of every queue it counts."""

from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save, pre_save

from core import member_cache, ratelimit
from demands.models import MicroWish
from incentives.models import Objection
from members.models import ResidenceRegistration
from projects.models import Activity, SelfReport, SignUp

from . import selectors
from .middleware import SECOND_FACTOR_SESSION_KEY
from .models import Task

member_cache.watch(Task, user=selectors.task_assignee_accounts)


def _work_waiting_changed(sender, instance, **kwargs) -> None:
    """A row of a queue the 工作台 counts was written: drop the version of every kept dashboard page (now, and once
    more after the commit, as core.member_cache does for a person's pages)."""
    cache.delete(selectors.WORK_WAITING_VERSION_KEY)
    transaction.on_commit(lambda: cache.delete(selectors.WORK_WAITING_VERSION_KEY))


# The wish states no tab of selectors.WORK_WAITING_WISH_TABS reads, and which no wish enters from a state one reads:
# a claim, a release, a fulfilment, an expiry or a publication (demands/services). A save in one of them leaves the
# kept pages; claims and releases are most of a district's wish writes. tests/dashboard/test_work_waiting.py walks
# every transition.
UNCOUNTED_WISH_STATES = frozenset(
    {MicroWish.State.PUBLISHED, MicroWish.State.CLAIMED, MicroWish.State.FULFILLED, MicroWish.State.EXPIRED}
)


def _wish_changed(sender, instance: MicroWish, **kwargs) -> None:
    if instance.state not in UNCOUNTED_WISH_STATES:
        _work_waiting_changed(sender, instance)


def _signup_marked(sender, instance: SignUp, **kwargs) -> None:
    """A sign-up joins or leaves the attendance queue only when it is marked: nobody signs up for or leaves an
    activity that has ended (and an activity's end is the kept page's stale_at, dashboard_views.py)."""
    if instance.status in (SignUp.Status.ATTENDED, SignUp.Status.NO_SHOW):
        _work_waiting_changed(sender, instance)


# What of an activity the attendance count reads: a save of other fields only (a new check-in code, the check-in
# place) leaves the kept pages.
ACTIVITY_FIELDS_COUNTED = frozenset({"status", "starts_at", "ends_at", "project"})


def _activity_changed(sender, instance: Activity, update_fields=None, **kwargs) -> None:
    if update_fields is None or ACTIVITY_FIELDS_COUNTED & set(update_fields):
        _work_waiting_changed(sender, instance)


# Each model whose rows a count of selectors.work_waiting reads.
for model, receiver in (
    (MicroWish, _wish_changed),
    (Activity, _activity_changed),
    (SignUp, _signup_marked),
    (SelfReport, _work_waiting_changed),
    (Objection, _work_waiting_changed),
    (Task, _work_waiting_changed),
    (ResidenceRegistration, _work_waiting_changed),
):
    post_save.connect(receiver, sender=model, weak=False, dispatch_uid=f"work_waiting:{model._meta.label}")
    post_delete.connect(receiver, sender=model, weak=False, dispatch_uid=f"work_waiting:{model._meta.label}")

ASSIGNEE_FIELDS = ("assignee_member", "assignee_organization")


def _former_assignee(sender, instance: Task, raw: bool = False, update_fields=None, **kwargs) -> None:
    """Before a task is saved with another assignee, drop the pages of the one it had (the save's own receiver only
    knows the new one). One query per save that may change the assignee."""
    if raw or instance.pk is None or (update_fields is not None and not set(update_fields) & set(ASSIGNEE_FIELDS)):
        return
    before = Task.objects.filter(pk=instance.pk).values("assignee_member_id", "assignee_organization_id").first()
    if before is None or before == {
        "assignee_member_id": instance.assignee_member_id,
        "assignee_organization_id": instance.assignee_organization_id,
    }:
        return
    member_cache.users_changed(selectors.task_assignee_accounts(Task(**before)))


pre_save.connect(_former_assignee, sender=Task, weak=False, dispatch_uid="member_cache:volunteer_platform.Task:before")


def _count_failed_sign_in(sender, credentials=None, request=None, **kwargs) -> None:
    """A failed sign-in counts against its address (middleware.SignInAddressLimitMiddleware refuses the next ones
    once SIGN_IN_IP_LIMIT is reached). Only the address is used, never the username that was typed."""
    if request is not None:
        ratelimit.hit("SIGN_IN_IP_LIMIT", ratelimit.client_ip(request))


user_login_failed.connect(_count_failed_sign_in, weak=False, dispatch_uid="site:sign-in-address-limit")


def _second_factor_owed(sender, request=None, user=None, **kwargs) -> None:
    """At every sign-in (password, SMS code, invitation), note in the session what second factor the account owes
    (middleware.SecondFactorMiddleware keeps it to the second-factor pages until it is given). One query, here only."""
    if request is None or user is None or not hasattr(request, "session"):
        return
    owed = selectors.second_factor_owed(user)
    if owed:
        request.session[SECOND_FACTOR_SESSION_KEY] = owed
    else:
        request.session.pop(SECOND_FACTOR_SESSION_KEY, None)


user_logged_in.connect(_second_factor_owed, weak=False, dispatch_uid="site:second-factor-owed")
