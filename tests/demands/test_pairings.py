"""Households (sensitive tags encrypted, separate consent), pairings and visits that become service records."""

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.urls import reverse
from django.utils import timezone

from demands import services
from demands.models import Household, Pairing, PairingVisit
from members.models import ServiceRecord
from members.services import service_record_verify
from tests.queries import assert_constant_queries

pytestmark = pytest.mark.django_db


def household(community, **changes):
    data = {
        "actor": None,
        "community": community,
        "contact_name": "刘奶奶",
        "address": "幸福路12号3单元101",
        "phone": "13700001111",
        "priority_groups": ["empty_nest", "disabled"],
        "consent_processing": True,
        "consent_sensitive": True,
        "note": "独居",
    }
    data.update(changes)
    return services.household_save(**data)


def visit_times(hours=2):
    end = timezone.now() - timedelta(hours=1)
    return end - timedelta(hours=hours), end


def test_household_data_is_encrypted_and_tags_need_consent(org_tree):
    home = household(org_tree.community_a)
    assert home.priority_group_list == ["disabled", "empty_nest"]  # in the list's order
    assert home.priority_group_labels == ["残障", "空巢老人"]
    assert home.consent_sensitive_at is not None and home.phone_hash
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT contact_name, contact_phone, address, priority_groups, note FROM demands_household WHERE id = %s",
            [home.pk],
        )
        raw = " ".join(cursor.fetchone())
    for plain in ("刘奶奶", "13700001111", "幸福路", "disabled", "独居"):
        assert plain not in raw

    with pytest.raises(ValidationError) as exc:
        household(org_tree.community_a, consent_sensitive=False)
    assert exc.value.message_dict == {"consent_sensitive": ["登记重点人群（敏感个人信息）需要服务对象单独同意。"]}
    with pytest.raises(ValidationError) as exc:
        household(org_tree.community_a, consent_processing=False)
    assert "consent_processing" in exc.value.message_dict


def test_withdrawing_the_sensitive_consent_erases_the_tags(org_tree):
    home = household(org_tree.community_a)
    home = household(org_tree.community_a, household=home, priority_groups=[], consent_sensitive=False)
    assert (home.priority_groups, home.consent_sensitive_at) == ("", None)


def test_the_database_refuses_tags_without_consent(org_tree):
    home = household(org_tree.community_a, priority_groups=[], consent_sensitive=False)
    with pytest.raises(IntegrityError), transaction.atomic():
        Household.objects.filter(pk=home.pk).update(priority_groups="gAAAA-encrypted")


def test_unknown_tags_and_foreign_grids_are_refused(org_tree):
    with pytest.raises(ValidationError, match="无效的重点人群"):
        household(org_tree.community_a, priority_groups=["rich"])
    with pytest.raises(ValidationError, match="所选网格不属于该社区"):
        household(org_tree.community_a, grid=org_tree.grid_b)


def test_pairing_is_unique_while_active(org_tree, member_a, secretary_a):
    home = household(org_tree.community_a)
    pairing = services.pairing_create(member=member_a, household=home, actor=secretary_a)
    with pytest.raises(ValidationError, match="已与这户结对"):
        services.pairing_create(member=member_a, household=home, actor=secretary_a)
    services.pairing_end(pairing=pairing, actor=secretary_a)
    with pytest.raises(ValidationError, match="已经结束"):
        services.pairing_end(pairing=pairing, actor=secretary_a)
    assert services.pairing_create(member=member_a, household=home, actor=secretary_a).active


def test_a_visit_becomes_a_pending_service_record_of_the_community(org_tree, member_a, secretary_a):
    home = household(org_tree.community_a)
    pairing = services.pairing_create(member=member_a, household=home, actor=secretary_a)
    start, end = visit_times()

    visit = services.pairing_visit_log(
        pairing=pairing, member=member_a, start=start, end=end, hours=1.5, summary="陪同聊天，打扫卫生"
    )

    record = visit.service_record
    assert (record.source, record.source_ref, record.status) == ("pairing", f"pairing_visit:{visit.pk}", "pending")
    assert record.recording_organization == org_tree.branch_a and record.member == member_a
    assert "刘奶奶" not in record.content + record.beneficiary_summary + record.place
    # The community's secretary verifies it through the members' verification path.
    assert service_record_verify(record=record, verifier=secretary_a).status == "verified"


def test_visits_are_refused_for_others_ended_pairings_and_bad_times(org_tree, member_a, member_b, secretary_a):
    pairing = services.pairing_create(member=member_a, household=household(org_tree.community_a), actor=secretary_a)
    start, end = visit_times()
    with pytest.raises(ValidationError, match="只能为自己的结对"):
        services.pairing_visit_log(pairing=pairing, member=member_b, start=start, end=end, hours=1, summary="走访")
    with pytest.raises(ValidationError, match="不能超过开始到结束的时间"):
        services.pairing_visit_log(pairing=pairing, member=member_a, start=start, end=end, hours=5, summary="走访")
    services.pairing_end(pairing=pairing, actor=secretary_a)
    with pytest.raises(ValidationError, match="已经结束"):
        services.pairing_visit_log(pairing=pairing, member=member_a, start=start, end=end, hours=1, summary="走访")
    assert not PairingVisit.objects.exists() and not ServiceRecord.objects.exists()


def test_the_member_sees_pairings_and_logs_a_visit(client, org_tree, member_a, member_b, secretary_a):
    pairing = services.pairing_create(member=member_a, household=household(org_tree.community_a), actor=secretary_a)
    client.force_login(member_a.user)
    page = client.get("/pairings/").content.decode()
    assert "刘奶奶" in page and "幸福路12号3单元101" in page and "空巢老人" in page
    # The full address and phone were shown: one audit event names the households.
    from audit.models import AuditEvent

    viewed = AuditEvent.objects.get(action="full_data_view", object_type="demands.household")
    assert (viewed.user_id, viewed.detail) == (member_a.user_id, {"households": [pairing.household_id]})

    yesterday = timezone.localdate() - timedelta(days=1)
    response = client.post(
        f"/pairings/{pairing.pk}/visit/",
        {"start": f"{yesterday}T14:00", "end": f"{yesterday}T15:30", "summary": "陪同聊天"},
        follow=True,
    )

    assert "走访已登记" in response.content.decode()
    assert PairingVisit.objects.get().hours == 1.5
    client.force_login(member_b.user)
    assert "刘奶奶" not in client.get("/pairings/").content.decode()
    assert client.get(f"/pairings/{pairing.pk}/visit/").status_code == 404


def test_the_admin_registers_households_with_consents(client, org_tree, secretary_a, secretary_b):
    client.force_login(secretary_a)
    url = reverse("admin:demands_household_add")
    base = {
        "community": org_tree.community_a.pk,
        "contact_name": "马大爷",
        "address": "幸福路8号",
        "phone": "13700002222",
        "priority_group_codes": ["low_income"],
        "consent_processing": "on",
        "active": "on",
    }
    refused = client.post(url, base)
    assert "需要服务对象单独同意" in refused.content.decode()
    assert not Household.objects.exists()

    response = client.post(url, {**base, "consent_sensitive": "on"})

    assert response.status_code == 302
    home = Household.objects.get()
    assert home.priority_group_list == ["low_income"] and home.created_by == secretary_a
    listing = client.get(reverse("admin:demands_household_changelist")).content.decode()
    assert "马**" in listing and "137****2222" in listing and "13700002222" not in listing
    client.force_login(secretary_b)
    assert client.get(reverse("admin:demands_household_change", args=[home.pk])).status_code == 404


def test_the_admin_pairs_a_member(client, org_tree, secretary_a, member_a):
    home = household(org_tree.community_a)
    client.force_login(secretary_a)
    response = client.post(
        reverse("admin:demands_pairing_add"),
        {
            "member": member_a.pk,
            "household": home.pk,
            "note": "每月走访",
            "started_on": timezone.localdate().isoformat(),
            "visits-TOTAL_FORMS": "0",
            "visits-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Pairing.objects.get().member == member_a


def test_the_pairings_page_costs_the_same_with_more_pairings(client, org_tree, member_a, secretary_a):
    client.force_login(member_a.user)

    def add(n):
        for i in range(n):
            home = household(org_tree.community_a, contact_name=f"户{i}")
            pairing = services.pairing_create(member=member_a, household=home, actor=secretary_a)
            start, end = visit_times()
            services.pairing_visit_log(pairing=pairing, member=member_a, start=start, end=end, hours=1, summary="走访")

    assert_constant_queries(client, "/pairings/", add, small=2, large=8)
