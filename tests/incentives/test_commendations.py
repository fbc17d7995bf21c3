"""Commendations: nominated in scope, approved by the organization above, public only with the member's consent."""

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from incentives import services
from incentives.models import LedgerEntry
from members import services as member_services
from notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def nomination(member_a, secretary_a):
    return services.commendation_nominate(
        member=member_a, title="优秀志愿者", citation="常年为空巢老人义务理发。", actor=secretary_a
    )


def test_a_secretary_nominates_a_member_of_their_branch(nomination, member_a, secretary_a, org_tree):
    assert (nomination.status, nomination.organization, nomination.nominated_by) == (
        "nominated",
        org_tree.branch_a,
        secretary_a,
    )
    assert not nomination.published


def test_nobody_nominates_outside_their_scope(member_b, secretary_a, org_tree):
    with pytest.raises(PermissionDenied):
        services.commendation_nominate(member=member_b, title="优秀", citation="事迹", actor=secretary_a)
    with pytest.raises(ValidationError):
        services.commendation_nominate(member=member_b, title="", citation="事迹", actor=secretary_a)


def test_the_organization_above_approves_and_the_member_gets_points(nomination, member_a, secretary_a, east_secretary):
    with pytest.raises(PermissionDenied, match="上级组织"):
        services.commendation_approve(commendation=nomination, actor=secretary_a)

    approved = services.commendation_approve(commendation=nomination, actor=east_secretary)

    assert (approved.status, approved.approved_by, approved.published) == ("approved", east_secretary, True)
    entry = LedgerEntry.objects.get(member=member_a)
    assert (entry.rule.code, entry.points, entry.source_ref) == ("commendation", 100, f"commendation:{nomination.pk}")
    assert Notification.objects.filter(recipient_user=member_a.user, template="incentives_commendation_approved")
    with pytest.raises(ValidationError):
        services.commendation_approve(commendation=approved, actor=east_secretary)
    assert LedgerEntry.objects.filter(member=member_a).count() == 1


def test_the_secretary_of_another_branch_cannot_approve(nomination, secretary_b):
    with pytest.raises(PermissionDenied):
        services.commendation_approve(commendation=nomination, actor=secretary_b)


def test_a_declined_nomination_needs_a_reason_and_awards_nothing(nomination, east_secretary, member_a):
    with pytest.raises(ValidationError):
        services.commendation_decline(commendation=nomination, actor=east_secretary, reason="")
    declined = services.commendation_decline(commendation=nomination, actor=east_secretary, reason="材料不全")
    assert (declined.status, declined.decision_note) == ("declined", "材料不全")
    assert not LedgerEntry.objects.filter(member=member_a).exists()
    with pytest.raises(ValidationError):
        services.commendation_set_published(commendation=declined, actor=east_secretary, published=True)


def test_the_exemplars_page_shows_only_consented_commendations(nomination, member_a, east_secretary, client):
    url = reverse("incentives:exemplars")
    services.commendation_approve(commendation=nomination, actor=east_secretary)
    assert "优秀志愿者" not in client.get(url).content.decode()  # approved and published, but no consent

    services.commendation_consent(commendation=nomination, member=member_a, consent=True)
    page = client.get(url).content.decode()
    assert "优秀志愿者" in page and "常年为空巢老人义务理发。" in page
    assert "李*" in page and "李明" not in page  # surname only, without consent to the full name

    member_services.member_set_name_consent(member=member_a, consent=True)
    assert "李明" in client.get(url).content.decode()

    services.commendation_consent(commendation=nomination, member=member_a, consent=False)
    assert "优秀志愿者" not in client.get(url).content.decode()


def test_a_taken_down_commendation_leaves_the_exemplars_page(nomination, member_a, secretary_a, east_secretary, client):
    services.commendation_approve(commendation=nomination, actor=east_secretary)
    services.commendation_consent(commendation=nomination, member=member_a, consent=True)
    services.commendation_set_published(commendation=nomination, actor=secretary_a, published=False)
    assert "优秀志愿者" not in client.get(reverse("incentives:exemplars")).content.decode()
    with pytest.raises(PermissionDenied):
        services.commendation_set_published(commendation=nomination, actor=secretary_a, published=True)


def test_only_the_member_consents(nomination, member_b, east_secretary):
    services.commendation_approve(commendation=nomination, actor=east_secretary)
    with pytest.raises(PermissionDenied):
        services.commendation_consent(commendation=nomination, member=member_b, consent=True)
