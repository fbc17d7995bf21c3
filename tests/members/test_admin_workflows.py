"""Secretaries' work in the admin beyond the roster: the tree, communities, teams, records, corrections, 双报到."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from members import services
from members.models import Community, Organization, ResidenceRegistration, ServiceRecord, ServiceRecordCorrection, Team
from tests.members.factories import MemberFactory, OrganizationFactory, ServiceRecordFactory
from tests.queries import assert_constant_queries

pytestmark = pytest.mark.django_db


@pytest.fixture
def signed_in_a(client, secretary_a):
    client.force_login(secretary_a)
    return client


def _split(dt):
    local = timezone.localtime(dt)
    return local.strftime("%Y-%m-%d"), local.strftime("%H:%M:%S")


# --- Organisation tree ------------------------------------------------------------------------------------------


def test_tree_is_listed_in_order_and_indented(client, platform_admin, org_tree):
    client.force_login(platform_admin)
    html = client.get(reverse("admin:members_organization_changelist")).content.decode()
    names = ["幸福街道党工委", "东社区党委", "东一支部", "西社区党委", "西一支部"]
    assert sorted(names, key=html.index) == names
    assert 'padding-left:3.0em">东一支部' in html


def test_secretary_adds_a_group_under_their_branch(signed_in_a, org_tree):
    url = reverse("admin:members_organization_add")
    form = signed_in_a.get(url).content.decode()
    assert "东一支部" in form and "西一支部" not in form  # parent choices are in scope
    response = signed_in_a.post(url, {"name": "第一党小组", "type": "group", "parent": org_tree.branch_a.pk})
    assert response.status_code == 302
    group = Organization.objects.get(name="第一党小组")
    assert group.path == f"{org_tree.branch_a.path}{group.pk:06d}."
    assert group.history.latest().history_user.username == "secretary_a"


def test_secretary_cannot_add_a_top_level_or_out_of_scope_organization(signed_in_a, org_tree):
    url = reverse("admin:members_organization_add")
    for parent in ("", org_tree.branch_b.pk):
        response = signed_in_a.post(url, {"name": "新组织", "type": "group", "parent": parent})
        assert response.status_code == 200
    assert not Organization.objects.filter(name="新组织").exists()


def test_hierarchy_rule_is_shown_on_the_form(signed_in_a, org_tree):
    response = signed_in_a.post(
        reverse("admin:members_organization_add"),
        {"name": "新党委", "type": "committee", "parent": org_tree.branch_a.pk},
    )
    assert "下级组织的层级不能高于上级组织（党支部）" in response.content.decode()


def test_platform_admin_moves_a_branch_with_its_subtree(client, platform_admin, org_tree):
    group = OrganizationFactory(name="第一党小组", type="group", parent=org_tree.branch_a)
    client.force_login(platform_admin)
    response = client.post(
        reverse("admin:members_organization_change", args=[org_tree.branch_a.pk]),
        {"name": "东一支部", "type": "branch", "parent": org_tree.west.pk, "contact_name": "", "contact_phone": ""},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    group.refresh_from_db()
    assert group.path.startswith(org_tree.west.path)


def test_secretary_cannot_move_the_top_of_their_scope(signed_in_a, org_tree, secretary_a):
    url = reverse("admin:members_organization_change", args=[org_tree.branch_a.pk])
    assert 'name="parent"' not in signed_in_a.get(url).content.decode()
    response = signed_in_a.post(
        url,
        {
            "name": "东一支部",
            "type": "branch",
            "parent": org_tree.west.pk,
            "secretary": secretary_a.member.pk,
            "contact_name": "王书记",
            "contact_phone": "0571-88886666",
        },
    )
    assert response.status_code == 302
    branch = Organization.objects.get(pk=org_tree.branch_a.pk)
    assert (branch.parent, branch.contact_phone) == (org_tree.east, "0571-88886666")


def test_secretary_grants_admin_rights_in_scope(signed_in_a, org_tree, secretary_a, member_a, member_b):
    url = reverse("admin:members_organization_change", args=[org_tree.branch_a.pk])
    form = signed_in_a.get(url).content.decode()
    assert f">{member_a}</option>" in form  # accounts are offered by member name and volunteer number
    assert member_b.name not in form
    response = signed_in_a.post(
        reverse("admin:members_organization_change", args=[org_tree.branch_a.pk]),
        {"name": "东一支部", "type": "branch", "secretary": secretary_a.member.pk, "admins": [member_a.user.pk]},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    member_a.user.refresh_from_db()
    assert member_a.user.is_staff
    assert list(org_tree.branch_a.admins.all()) == [member_a.user]


# --- Communities, teams -----------------------------------------------------------------------------------------


def test_community_with_grids_inline(signed_in_a, org_tree, member_a):
    response = signed_in_a.post(
        reverse("admin:members_community_add"),
        {
            "organization": org_tree.branch_a.pk,
            "name": "东湖社区",
            "address": "东湖路1号",
            "grids-TOTAL_FORMS": "1",
            "grids-INITIAL_FORMS": "0",
            "grids-0-name": "第一网格",
            "grids-0-leader": member_a.pk,
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    community = Community.objects.get(name="东湖社区")
    assert community.grids.get().leader == member_a


def test_team_is_created_through_the_service(signed_in_a, org_tree, member_a, member_b):
    url = reverse("admin:members_team_add")
    response = signed_in_a.post(url, {"organization": org_tree.branch_a.pk, "name": "理发队", "leader": member_a.pk})
    assert response.status_code == 302, response.content.decode()[:3000]
    assert list(Team.objects.get(name="理发队").members.all()) == [member_a]  # the leader is a member
    response = signed_in_a.post(
        url, {"organization": org_tree.branch_a.pk, "name": "巡逻队", "leader": member_a.pk, "members": [member_b.pk]}
    )
    assert response.status_code == 200  # B's member is not even a valid choice
    assert not Team.objects.filter(name="巡逻队").exists()


# --- Service records --------------------------------------------------------------------------------------------


RECORDS = reverse("admin:members_servicerecord_changelist")


def _record_form(member, organization, *, hours="2", span=timedelta(hours=2)):
    start = (timezone.localtime() - timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    (d0, t0), (d1, t1) = _split(start), _split(start + span)
    return {
        "member": member.pk,
        "recording_organization": organization.pk,
        "started_at_0": d0,
        "started_at_1": t0,
        "ended_at_0": d1,
        "ended_at_1": t1,
        "hours": hours,
        "place": "东风村文化礼堂",
        "content": "义务理发",
        "beneficiary_summary": "老人12人",
        "evaluation": "5",
        "organizer": "王书记",
    }


def test_manual_record_is_added_pending(signed_in_a, member_a, org_tree):
    response = signed_in_a.post(reverse("admin:members_servicerecord_add"), _record_form(member_a, org_tree.branch_a))
    assert response.status_code == 302, response.content.decode()[:3000]
    record = ServiceRecord.objects.get()
    assert (record.status, record.source, record.recorder.username) == ("pending", "manual", "secretary_a")
    assert record.hours == Decimal("2.00")


def test_hours_beyond_the_span_are_refused_on_the_form(signed_in_a, member_a, org_tree):
    response = signed_in_a.post(
        reverse("admin:members_servicerecord_add"), _record_form(member_a, org_tree.branch_a, hours="3")
    )
    assert response.status_code == 200
    assert "不能超过开始到结束的时间" in response.content.decode()
    assert not ServiceRecord.objects.exists()


def test_verify_and_void_actions(signed_in_a, member_a):
    first, second = ServiceRecordFactory(member=member_a), ServiceRecordFactory(member=member_a)
    signed_in_a.post(RECORDS, {"action": "verify_selected", ACTION_CHECKBOX_NAME: [first.pk, second.pk]})
    assert set(ServiceRecord.objects.values_list("status", flat=True)) == {"verified"}
    page = signed_in_a.post(RECORDS, {"action": "void_selected", ACTION_CHECKBOX_NAME: [second.pk]})
    assert "作废所选记录" in page.content.decode()
    signed_in_a.post(
        RECORDS, {"action": "void_selected", ACTION_CHECKBOX_NAME: [second.pk], "apply": "1", "reason": "重复"}
    )
    second.refresh_from_db()
    assert (second.status, second.void_reason, second.voided_by.username) == ("void", "重复", "secretary_a")


def test_records_recorded_elsewhere_are_verified_by_their_recorder(signed_in_a, member_a, org_tree):
    elsewhere = ServiceRecordFactory(member=member_a, recording_organization=org_tree.branch_b)
    response = signed_in_a.post(
        RECORDS, {"action": "verify_selected", ACTION_CHECKBOX_NAME: [elsewhere.pk]}, follow=True
    )
    assert "应由记录组织确认或作废" in response.content.decode()
    elsewhere.refresh_from_db()
    assert elsewhere.status == "pending"


def test_secretary_cannot_verify_own_hours(signed_in_a, secretary_a):
    own = ServiceRecordFactory(member=secretary_a.member)
    response = signed_in_a.post(RECORDS, {"action": "verify_selected", ACTION_CHECKBOX_NAME: [own.pk]}, follow=True)
    assert "不能确认本人的服务时长" in response.content.decode()
    own.refresh_from_db()
    assert own.status == "pending"


def test_record_change_page_is_read_only(signed_in_a, member_a):
    record = ServiceRecordFactory(member=member_a)
    url = reverse("admin:members_servicerecord_change", args=[record.pk])
    html = signed_in_a.get(url).content.decode()
    assert 'name="hours"' not in html and "2.00" in html


def test_records_list_queries_do_not_grow(signed_in_a, org_tree):
    member = MemberFactory(organization=org_tree.branch_a)
    assert_constant_queries(signed_in_a, RECORDS, lambda n: ServiceRecordFactory.create_batch(n, member=member))


# --- Corrections ------------------------------------------------------------------------------------------------

CORRECTIONS = reverse("admin:members_servicerecordcorrection_changelist")


@pytest.fixture
def verified_record(member_a, platform_admin):
    record = ServiceRecordFactory(member=member_a)
    return services.service_record_verify(record=record, verifier=platform_admin)


def test_correction_is_requested_and_approved(signed_in_a, verified_record):
    response = signed_in_a.post(
        reverse("admin:members_servicerecordcorrection_add"),
        {"record": verified_record.pk, "new_hours": "1.5", "reason": "提前离开"},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    correction = ServiceRecordCorrection.objects.get()
    signed_in_a.post(CORRECTIONS, {"action": "approve_selected", ACTION_CHECKBOX_NAME: [correction.pk]})
    verified_record.refresh_from_db()
    assert (verified_record.status, verified_record.hours) == ("corrected", Decimal("1.50"))


def test_correction_refused_with_a_note(signed_in_a, verified_record):
    correction = services.service_record_correction_request(
        record=verified_record, requested_by=None, reason="地点", place="村委会"
    )
    signed_in_a.post(
        CORRECTIONS,
        {"action": "refuse_selected", ACTION_CHECKBOX_NAME: [correction.pk], "apply": "1", "reason": "无依据"},
    )
    correction.refresh_from_db()
    assert (correction.status, correction.review_note) == ("refused", "无依据")


def test_an_empty_correction_is_refused_on_the_form(signed_in_a, verified_record):
    response = signed_in_a.post(
        reverse("admin:members_servicerecordcorrection_add"), {"record": verified_record.pk, "reason": "没改"}
    )
    assert "更正申请没有改变任何内容" in response.content.decode()
    assert not ServiceRecordCorrection.objects.exists()


# --- 双报到 -----------------------------------------------------------------------------------------------------


def test_the_community_side_confirms_not_the_home_branch(client, secretary_a, secretary_b, member_a, org_tree):
    url = reverse("admin:members_residenceregistration_changelist")
    client.force_login(secretary_a)
    response = client.post(
        reverse("admin:members_residenceregistration_add"),
        {"member": member_a.pk, "community": org_tree.community_b.pk, "grid": org_tree.grid_b.pk},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    registration = ResidenceRegistration.objects.get()
    response = client.post(url, {"action": "confirm_selected", ACTION_CHECKBOX_NAME: [registration.pk]}, follow=True)
    assert "不在您管理的社区，不能确认" in response.content.decode()
    client.force_login(secretary_b)
    client.post(url, {"action": "confirm_selected", ACTION_CHECKBOX_NAME: [registration.pk]})
    registration.refresh_from_db()
    assert (registration.status, registration.confirmed_by) == ("confirmed", secretary_b)


def test_registering_at_a_new_community_ends_the_old_registration(signed_in_a, member_a, org_tree):
    old = services.residence_register(member=member_a, community=org_tree.community_a, actor=None)
    response = signed_in_a.post(
        reverse("admin:members_residenceregistration_add"),
        {"member": member_a.pk, "community": org_tree.community_b.pk},
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    old.refresh_from_db()
    assert old.status == "ended"
    assert member_a.residence_registrations.get(status="pending").community == org_tree.community_b


def test_record_autocomplete_costs_the_same_for_many_records(signed_in_a, member_a):
    from tests.queries import count_queries

    url = reverse("admin:autocomplete")
    params = {"app_label": "members", "model_name": "servicerecordcorrection", "field_name": "record", "term": ""}
    ServiceRecordFactory.create_batch(2, member=member_a)
    few, _sql = count_queries(lambda: signed_in_a.get(url, params))
    ServiceRecordFactory.create_batch(10, member=MemberFactory(organization=member_a.organization))
    many, _sql = count_queries(lambda: signed_in_a.get(url, params))
    assert few == many
    assert len(signed_in_a.get(url, params).json()["results"]) == 12


def test_transfer_list_queries_do_not_grow(client, platform_admin, org_tree):
    a2 = OrganizationFactory(name="东二支部", parent=org_tree.east)
    client.force_login(platform_admin)

    def add_transfers(n):
        for member in MemberFactory.create_batch(n, organization=org_tree.branch_a):
            services.member_transfer(member=member, to_organization=a2, actor=platform_admin)

    assert_constant_queries(client, reverse("admin:members_transfer_changelist"), add_transfers)


def test_registration_list_queries_do_not_grow(signed_in_a, org_tree):
    def add_registrations(n):
        for member in MemberFactory.create_batch(n, organization=org_tree.branch_a):
            services.residence_register(member=member, community=org_tree.community_b, grid=org_tree.grid_b, actor=None)

    assert_constant_queries(signed_in_a, reverse("admin:members_residenceregistration_changelist"), add_registrations)
