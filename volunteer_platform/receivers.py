"""What the site does when something happens elsewhere (connected in apps.SiteConfig.ready).

A failed sign-in counts against its address (password spraying: middleware.SignInAddressLimitMiddleware).

The member portal's page cache follows this app's tasks (connected in apps.SiteConfig.ready; see
core/member_cache.py): /me/ lists a member's open tasks — assigned to them, or to an organization they
administer — so saving or deleting a task drops its assignee's pages, and a reassignment its former assignee's too.
Who administers an organization is followed by the members app (its admins and secretary)."""

from django.contrib.auth.signals import user_login_failed
from django.db.models.signals import pre_save

from core import member_cache, ratelimit

from . import selectors
from .models import Task

member_cache.watch(Task, user=selectors.task_assignee_accounts)

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
