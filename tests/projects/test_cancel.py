"""Cancelling a sign-up and leaving the waitlist: the button says which one it is, and after checking in there is
neither a button nor a way through the service."""

from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.urls import reverse

from projects import services
from projects.models import SignUp
from tests.projects.factories import ActivityFactory

pytestmark = pytest.mark.django_db


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


@pytest.fixture
def checked_in(clock, org_tree, member_a):
    """Branch A's activity starting in 30 minutes (past the cancellation cut-off); member A signed up and checked in."""
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    services.signup_create(activity=activity, member=member_a)
    clock.now = activity.starts_at - timedelta(minutes=30)
    services.signup_check_in(activity=activity, member=member_a, code=activity.checkin_code, now=clock.now)
    return activity


def test_the_service_refuses_to_cancel_after_check_in(checked_in, member_a, clock):
    signup = SignUp.objects.get(activity=checked_in, member=member_a)

    with pytest.raises(ValidationError, match="您已签到，不能再取消报名"):
        services.signup_cancel(signup=signup, now=clock.now)

    signup.refresh_from_db()
    assert signup.status == SignUp.Status.CONFIRMED and signup.checked_in_at is not None


def test_after_check_in_the_page_offers_no_cancellation(client, checked_in, member_a):
    url = reverse("projects:activity_detail", args=[checked_in.pk])
    client.force_login(member_a.user)

    page = client.get(url).content.decode()

    assert 'id="checked-in"' in page
    assert 'id="cancel-form"' not in page and "取消报名" not in page and "现在取消将记为逾期取消" not in page


def test_a_cancel_posted_after_check_in_is_refused_with_a_message(client, checked_in, member_a):
    client.force_login(member_a.user)

    response = client.post(reverse("projects:activity_cancel_signup", args=[checked_in.pk]))

    assert any("您已签到，不能再取消报名" in m for m in messages_of(response))
    assert SignUp.objects.get(activity=checked_in, member=member_a).status == SignUp.Status.CONFIRMED


def test_before_check_in_past_the_cutoff_cancelling_still_warns_of_a_late_cancellation(
    client, clock, org_tree, member_a
):
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    services.signup_create(activity=activity, member=member_a)
    clock.now = activity.starts_at - timedelta(minutes=30)
    client.force_login(member_a.user)

    page = client.get(reverse("projects:activity_detail", args=[activity.pk])).content.decode()

    assert 'id="cancel-form"' in page and "取消报名" in page and "现在取消将记为逾期取消" in page


def test_a_waitlisted_member_leaves_the_waitlist(client, clock, org_tree, member_a, member_b):
    activity = ActivityFactory(project__organization=org_tree.branch_a, capacity=1)
    services.signup_create(activity=activity, member=member_b)
    services.signup_create(activity=activity, member=member_a)
    url = reverse("projects:activity_detail", args=[activity.pk])
    client.force_login(member_a.user)

    page = client.get(url).content.decode()
    assert "退出候补" in page and "取消报名" not in page

    response = client.post(reverse("projects:activity_cancel_signup", args=[activity.pk]))
    assert messages_of(response) == ["已退出候补。"]
    assert SignUp.objects.get(activity=activity, member=member_a).status == SignUp.Status.CANCELLED
