"""The write rules of the members app, through its services."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from members import services
from members.models import Member, Organization, ResidenceRegistration, ServiceRecord, Tag, Transfer
from members.selectors import counted_hours, records_for_member, subtree, yearly_totals
from tests.members.factories import MemberFactory, OrganizationFactory, ServiceRecordFactory, TagFactory

pytestmark = pytest.mark.django_db


def _messages(excinfo) -> str:
    return " ".join(excinfo.value.messages)


# --- Organisation tree ------------------------------------------------------------------------------------------


class TestOrganizationTree:
    def test_paths_follow_the_tree(self, org_tree):
        assert org_tree.street.path == f"{org_tree.street.pk:06d}."
        assert org_tree.branch_a.path == f"{org_tree.street.pk:06d}.{org_tree.east.pk:06d}.{org_tree.branch_a.pk:06d}."
        assert org_tree.branch_a.depth == 2
        assert set(subtree(org_tree.east)) == {org_tree.east, org_tree.branch_a}

    def test_move_rewrites_the_paths_of_the_whole_subtree(self, org_tree):
        group = OrganizationFactory(name="第一党小组", type=Organization.Type.GROUP, parent=org_tree.branch_a)
        services.organization_move(organization=org_tree.branch_a, new_parent=org_tree.west, actor=None)
        group.refresh_from_db()
        branch_a = Organization.objects.get(pk=org_tree.branch_a.pk)
        assert branch_a.parent == org_tree.west
        assert branch_a.path == f"{org_tree.west.path}{branch_a.pk:06d}."
        assert group.path == f"{branch_a.path}{group.pk:06d}."
        assert set(subtree(org_tree.west)) == {org_tree.west, branch_a, org_tree.branch_b, group}
        assert set(subtree(org_tree.east)) == {org_tree.east}

    def test_cannot_move_under_its_own_descendant(self, org_tree):
        with pytest.raises(ValidationError) as excinfo:
            services.organization_move(organization=org_tree.east, new_parent=org_tree.branch_a, actor=None)
        assert "不能把组织移到它自己或它的下级组织之下" in _messages(excinfo)

    @pytest.mark.parametrize(
        ("parent_type", "child_type", "message"),
        [
            (Organization.Type.BRANCH, Organization.Type.COMMITTEE, "下级组织的层级不能高于上级组织"),
            (Organization.Type.GROUP, Organization.Type.GROUP, "党小组下不能再设下级组织"),
        ],
    )
    def test_hierarchy_rules(self, org_tree, parent_type, child_type, message):
        parent = OrganizationFactory(type=parent_type, parent=org_tree.branch_a if parent_type == "group" else None)
        with pytest.raises(ValidationError) as excinfo:
            services.organization_create(name="下级", type=child_type, parent=parent, actor=None)
        assert message in _messages(excinfo)

    def test_sibling_names_are_unique(self, org_tree):
        with pytest.raises(ValidationError) as excinfo:
            services.organization_create(name="东一支部", type="branch", parent=org_tree.east, actor=None)
        assert "同一上级组织下已有同名组织" in _messages(excinfo)
        # The same name elsewhere in the tree is fine.
        assert services.organization_create(name="东一支部", type="branch", parent=org_tree.west, actor=None).pk

    def test_secretary_must_belong_to_the_subtree_and_becomes_staff(self, org_tree, member_a, member_b):
        with pytest.raises(ValidationError) as excinfo:
            services.organization_update(
                organization=org_tree.east, actor=None, name="东社区党委", type="committee", secretary=member_b
            )
        assert "书记必须是本组织或其下级组织的党员" in _messages(excinfo)
        services.organization_update(
            organization=org_tree.east, actor=None, name="东社区党委", type="committee", secretary=member_a
        )
        member_a.user.refresh_from_db()
        assert member_a.user.is_staff

    def test_set_admins_makes_them_staff_and_is_audited(self, org_tree, member_a, secretary_a):
        services.organization_set_admins(organization=org_tree.branch_a, users=[member_a.user], actor=secretary_a)
        member_a.user.refresh_from_db()
        assert member_a.user.is_staff
        assert list(org_tree.branch_a.admins.all()) == [member_a.user]
        latest = org_tree.branch_a.history.latest()
        assert latest.history_user == secretary_a
        assert latest.history_change_reason == "调整组织管理员"


# --- Members ----------------------------------------------------------------------------------------------------


class TestMembers:
    def test_create_allocates_a_number_and_an_account_without_password(self, org_tree, secretary_a):
        skill = TagFactory(kind=Tag.Kind.SKILL, name="理发")
        member = services.member_create(
            name=" 孙丽 ",
            phone="+86 139-1234-5678",
            organization=org_tree.branch_a,
            actor=secretary_a,
            skills=[skill],
        )
        assert member.volunteer_number == f"V{timezone.localdate().year}{member.volunteer_number[-6:]}"
        assert member.name == "孙丽"
        assert member.phone == "13912345678"
        assert member.phone_masked == "139****5678"
        assert member.user.username == member.volunteer_number
        assert not member.user.has_usable_password()
        assert list(member.skills.all()) == [skill]
        assert member.history.latest().history_user == secretary_a

    def test_numbers_increase(self, org_tree):
        first, second = MemberFactory(organization=org_tree.branch_a), MemberFactory(organization=org_tree.branch_a)
        assert int(second.volunteer_number[-6:]) == int(first.volunteer_number[-6:]) + 1
        block = services.volunteer_numbers_allocate(count=3)
        assert [int(n[-6:]) for n in block] == [int(second.volunteer_number[-6:]) + i for i in (1, 2, 3)]

    @pytest.mark.parametrize(
        ("changes", "field", "message"),
        [
            ({"phone": "12345"}, "phone", "请输入11位中国大陆手机号码"),
            ({"id_number": "110105194912310021"}, "id_number", "身份证号码校验位不正确"),
            ({"name": "  "}, "name", "请填写姓名"),
        ],
    )
    def test_bad_input_is_a_field_error_in_chinese(self, member_a, changes, field, message):
        with pytest.raises(ValidationError) as excinfo:
            services.member_update_profile(member=member_a, actor=None, **changes)
        assert message in " ".join(excinfo.value.message_dict[field])

    def test_phone_and_id_number_are_unique_whatever_their_spelling(self, member_a, member_b):
        spaced = f"{member_a.phone[:3]} {member_a.phone[3:7]} {member_a.phone[7:]}"
        with pytest.raises(ValidationError) as excinfo:
            services.member_update_profile(member=member_b, actor=None, phone=spaced)
        assert excinfo.value.message_dict["phone"] == ["该手机号已被其他党员使用。"]
        services.member_update_profile(member=member_a, actor=None, id_number="11010519491231002x")
        with pytest.raises(ValidationError) as excinfo:
            services.member_update_profile(member=member_b, actor=None, id_number="11010519491231002X")
        assert excinfo.value.message_dict["id_number"] == ["该身份证号已被其他党员使用。"]

    def test_home_organization_must_be_a_branch(self, org_tree):
        with pytest.raises(ValidationError) as excinfo:
            services.member_create(name="孙丽", phone="13912345678", organization=org_tree.east, actor=None)
        assert excinfo.value.message_dict["organization"] == ["所在支部必须是党支部。"]

    def test_update_changes_only_what_is_passed(self, member_a):
        phone = member_a.phone
        services.member_update_profile(member=member_a, actor=None, birth_year=1960)
        member_a.refresh_from_db()
        assert (member_a.birth_year, member_a.phone, member_a.name) == (1960, phone, "李明")

    def test_skill_lists_only_take_their_own_kind(self, member_a):
        interest = TagFactory(kind=Tag.Kind.INTEREST, name="书法")
        with pytest.raises(ValidationError) as excinfo:
            services.member_update_profile(member=member_a, actor=None, skills=[interest])
        assert "请选择特长标签" in " ".join(excinfo.value.message_dict["skills"])

    def test_transfer_moves_the_member_and_keeps_history(self, member_a, org_tree, secretary_a):
        services.member_transfer(member=member_a, to_organization=org_tree.branch_b, actor=secretary_a, note="搬家")
        other = OrganizationFactory(name="南一支部", parent=org_tree.west)
        services.member_transfer(member=member_a, to_organization=other, actor=secretary_a)
        member_a.refresh_from_db()
        assert member_a.organization == other
        hops = list(Transfer.objects.filter(member=member_a).order_by("pk"))
        assert [(t.from_organization, t.to_organization) for t in hops] == [
            (org_tree.branch_a, org_tree.branch_b),
            (org_tree.branch_b, other),
        ]
        assert hops[0].actor == secretary_a and hops[0].note == "搬家"
        assert member_a.history.latest().history_change_reason == "转接至南一支部"

    def test_transfer_rules(self, member_a, org_tree):
        with pytest.raises(ValidationError, match="已在东一支部"):
            services.member_transfer(member=member_a, to_organization=org_tree.branch_a, actor=None)
        with pytest.raises(ValidationError, match="所在支部必须是党支部"):
            services.member_transfer(member=member_a, to_organization=org_tree.west, actor=None)
        services.member_deactivate(member=member_a, actor=None)
        with pytest.raises(ValidationError, match="处于“停用”状态，不能转接"):
            services.member_transfer(member=member_a, to_organization=org_tree.branch_b, actor=None)
        assert not Transfer.objects.exists()

    def test_deactivate_and_reactivate(self, member_a, secretary_a):
        services.member_deactivate(member=member_a, actor=secretary_a, status=Member.Status.EXEMPT, reason="年满70岁")
        member_a.refresh_from_db()
        assert member_a.status == Member.Status.EXEMPT
        assert member_a.history.latest().history_change_reason == "年满70岁"
        with pytest.raises(ValidationError, match="已经是“免除”状态"):
            services.member_deactivate(member=member_a, actor=secretary_a, status=Member.Status.EXEMPT)
        services.member_reactivate(member=member_a, actor=secretary_a)
        member_a.refresh_from_db()
        assert member_a.status == Member.Status.ACTIVE
        with pytest.raises(ValidationError, match="已经是在册状态"):
            services.member_reactivate(member=member_a, actor=secretary_a)

    def test_public_name(self, member_a):
        assert member_a.public_name == "李**"  # surname + two stars, whatever the length (DESIGN.md)
        services.member_set_name_consent(member=member_a, consent=True)
        member_a.refresh_from_db()
        assert member_a.public_name == "李明"
        assert member_a.full_name_consent_at is not None


class TestResidence:
    def test_register_confirm_and_move(self, member_a, org_tree, secretary_b):
        first = services.residence_register(member=member_a, community=org_tree.community_b, actor=None)
        assert first.status == ResidenceRegistration.Status.PENDING
        services.residence_confirm(registration=first, actor=secretary_b)
        first.refresh_from_db()
        assert (first.status, first.confirmed_by) == (ResidenceRegistration.Status.CONFIRMED, secretary_b)
        with pytest.raises(ValidationError, match="只有待确认的报到可以确认"):
            services.residence_confirm(registration=first, actor=secretary_b)
        with pytest.raises(ValidationError, match="已在该社区报到"):
            services.residence_register(member=member_a, community=org_tree.community_b, actor=None)
        # Moving home: registering elsewhere ends the previous registration.
        second = services.residence_register(
            member=member_a, community=org_tree.community_a, grid=org_tree.grid_a, actor=None
        )
        first.refresh_from_db()
        assert first.status == ResidenceRegistration.Status.ENDED and first.ended_at is not None
        assert second.status == ResidenceRegistration.Status.PENDING

    def test_grid_must_belong_to_the_community(self, member_a, org_tree):
        with pytest.raises(ValidationError) as excinfo:
            services.residence_register(
                member=member_a, community=org_tree.community_a, grid=org_tree.grid_b, actor=None
            )
        assert excinfo.value.message_dict["grid"] == ["所选网格不属于该社区（村）。"]


class TestTeams:
    def test_leader_joins_and_members_come_from_the_subtree(self, org_tree, member_a, member_b):
        helper = MemberFactory(organization=org_tree.branch_a)
        team = services.team_create(
            organization=org_tree.east, name="东社区理发队", leader=member_a, members=[helper], actor=None
        )
        assert set(team.members.all()) == {member_a, helper}
        with pytest.raises(ValidationError, match="不属于东社区党委及其下级组织：周红"):
            services.team_update(team=team, name=team.name, leader=member_a, members=[member_b], actor=None)
        with pytest.raises(ValidationError, match="该组织已有同名服务队"):
            services.team_create(organization=org_tree.east, name="东社区理发队", actor=None)


# --- Service records --------------------------------------------------------------------------------------------


def _when(hours: float = 2):
    start = (timezone.localtime() - timedelta(days=2)).replace(hour=14, minute=0, second=0, microsecond=0)
    return start, start + timedelta(hours=hours)


def _record(member, **overrides):
    start, end = _when()
    values = {
        "member": member,
        "start": start,
        "end": end,
        "place": "东风村活动室",
        "content": "陪老人聊天",
        "hours": Decimal("1.5"),
        "source": ServiceRecord.Source.ACTIVITY,
        "source_ref": "activity:1",
        "recording_organization": member.organization,
        "organizer": "王书记",
        "recorder": None,
    }
    values.update(overrides)
    return services.service_record_create(**values)


class TestServiceRecords:
    def test_create_is_pending_and_idempotent_on_its_source(self, member_a):
        record = _record(member_a)
        assert record.status == ServiceRecord.Status.PENDING
        assert record.date == timezone.localtime(record.started_at).date()
        again = _record(member_a, hours=Decimal("2"))
        assert again.pk == record.pk and again.hours == Decimal("1.50")  # the first record, unchanged
        assert ServiceRecord.objects.count() == 1
        assert _record(member_a, source_ref="activity:2").pk != record.pk

    @pytest.mark.parametrize(
        ("overrides", "field", "message"),
        [
            ({"hours": Decimal("2.5")}, "hours", "服务时长（2.50小时）不能超过开始到结束的时间（2.00小时）"),
            ({"hours": 0}, "hours", "服务时长必须大于0"),
            ({"end": _when()[0]}, "ended_at", "结束时间必须晚于开始时间"),
            ({"date": _when()[0].date() - timedelta(days=1)}, "date", "服务日期应与开始时间为同一天"),
            ({"place": " "}, "place", "请填写服务地点"),
            ({"evaluation": 6}, "evaluation", "服务评价应为1到5分"),
        ],
    )
    def test_invalid_records_are_refused_with_a_reason(self, member_a, overrides, field, message):
        with pytest.raises(ValidationError) as excinfo:
            _record(member_a, **overrides)
        assert message in " ".join(excinfo.value.message_dict[field])
        assert not ServiceRecord.objects.exists()

    def test_hours_are_rounded_down_to_stay_within_the_span(self, member_a):
        start, _end = _when()
        record = _record(member_a, end=start + timedelta(minutes=40), hours=Decimal("0.6666"))
        assert record.hours == Decimal("0.66")

    def test_verify_once_and_never_your_own(self, member_a, secretary_a):
        record = _record(member_a)
        with pytest.raises(ValidationError, match="不能确认本人的服务时长"):
            services.service_record_verify(record=record, verifier=member_a.user)
        services.service_record_verify(record=record, verifier=secretary_a)
        record.refresh_from_db()
        assert record.status == ServiceRecord.Status.VERIFIED
        assert record.verified_by == secretary_a and record.verified_at is not None
        with pytest.raises(ValidationError, match="只有待确认的记录可以确认（该记录已确认）"):
            services.service_record_verify(record=record, verifier=secretary_a)

    def test_void_is_final_and_stops_counting(self, member_a, secretary_a):
        record = _record(member_a)
        services.service_record_verify(record=record, verifier=secretary_a)
        assert counted_hours(member_a) == Decimal("1.5")
        with pytest.raises(ValidationError) as excinfo:
            services.service_record_void(record=record, actor=secretary_a, reason=" ")
        assert excinfo.value.message_dict["reason"] == ["请填写作废原因。"]
        services.service_record_void(record=record, actor=secretary_a, reason="重复录入")
        record.refresh_from_db()
        assert (record.status, record.void_reason) == (ServiceRecord.Status.VOID, "重复录入")
        assert counted_hours(member_a) == 0
        with pytest.raises(ValidationError, match="该记录已作废"):
            services.service_record_void(record=record, actor=secretary_a, reason="again")

    def test_correction_approved_applies_the_change_and_keeps_the_old_values(self, member_a, secretary_a):
        record = _record(member_a)
        with pytest.raises(ValidationError, match="只有已确认的记录可以申请更正"):
            services.service_record_correction_request(
                record=record, requested_by=member_a.user, reason="少记了", hours=Decimal("2")
            )
        services.service_record_verify(record=record, verifier=secretary_a)
        correction = services.service_record_correction_request(
            record=record, requested_by=member_a.user, reason="少记了半小时", hours=Decimal("2")
        )
        with pytest.raises(ValidationError, match="该记录已有待审核的更正申请"):
            services.service_record_correction_request(
                record=record, requested_by=member_a.user, reason="再改", place="别处"
            )
        services.service_record_correction_review(correction=correction, reviewer=secretary_a, approve=True)
        record.refresh_from_db()
        correction.refresh_from_db()
        assert (record.status, record.hours) == (ServiceRecord.Status.CORRECTED, Decimal("2.00"))
        assert correction.status == correction.Status.APPROVED and correction.reviewed_by == secretary_a
        assert counted_hours(member_a) == Decimal("2")
        before, after = record.history.order_by("history_date")[1:3]  # verified, then corrected
        assert (before.hours, after.hours) == (Decimal("1.50"), Decimal("2.00"))
        assert after.history_user == secretary_a
        with pytest.raises(ValidationError, match="该更正申请已经审核过"):
            services.service_record_correction_review(correction=correction, reviewer=secretary_a, approve=False)

    def test_correction_refused_needs_a_reason_and_changes_nothing(self, member_a, secretary_a):
        record = _record(member_a)
        services.service_record_verify(record=record, verifier=secretary_a)
        start, _end = _when()
        correction = services.service_record_correction_request(
            record=record, requested_by=member_a.user, reason="时间记错", start=start, end=start + timedelta(hours=3)
        )
        with pytest.raises(ValidationError) as excinfo:
            services.service_record_correction_review(correction=correction, reviewer=secretary_a, approve=False)
        assert excinfo.value.message_dict["review_note"] == ["拒绝更正申请时请说明理由。"]
        services.service_record_correction_review(
            correction=correction, reviewer=secretary_a, approve=False, note="与签到记录不符"
        )
        record.refresh_from_db()
        assert (record.status, record.ended_at - record.started_at) == (
            ServiceRecord.Status.VERIFIED,
            timedelta(hours=2),
        )

    def test_correction_must_change_something_valid(self, member_a, secretary_a):
        record = _record(member_a)
        services.service_record_verify(record=record, verifier=secretary_a)
        with pytest.raises(ValidationError, match="更正申请没有改变任何内容"):
            services.service_record_correction_request(
                record=record, requested_by=None, reason="无", hours=Decimal("1.5")
            )
        with pytest.raises(ValidationError, match="不能超过开始到结束的时间"):
            services.service_record_correction_request(record=record, requested_by=None, reason="多", hours=5)

    def test_voiding_refuses_pending_corrections(self, member_a, secretary_a):
        record = _record(member_a)
        services.service_record_verify(record=record, verifier=secretary_a)
        correction = services.service_record_correction_request(
            record=record, requested_by=None, reason="地点", place="别处"
        )
        services.service_record_void(record=record, actor=secretary_a, reason="活动取消")
        correction.refresh_from_db()
        assert (correction.status, correction.review_note) == (correction.Status.REFUSED, "记录已作废")

    def test_yearly_totals_count_confirmed_hours_only(self, member_a, secretary_a):
        year = timezone.localdate().year

        def on(year, hours):
            start = timezone.localtime().replace(year=year, month=6, day=1, hour=9, minute=0, second=0, microsecond=0)
            return ServiceRecordFactory(member=member_a, start=start, end=start + timedelta(hours=hours), hours=hours)

        older, newer, _pending = on(year - 2, 3), on(year - 1, 2), on(year - 1, 1)
        for record in (older, newer):
            services.service_record_verify(record=record, verifier=secretary_a)
        assert list(yearly_totals(member_a)) == [
            {"year": year - 1, "hours": Decimal("2.00"), "services": 1},
            {"year": year - 2, "hours": Decimal("3.00"), "services": 1},
        ]
        assert [r.pk for r in records_for_member(member_a)] == [_pending.pk, newer.pk, older.pk]


class TestSecretaryStaysInside:
    """An organization's secretary is an active member of its subtree, whatever is written afterwards."""

    def test_a_secretary_is_replaced_before_being_transferred_out(self, org_tree, secretary_a, east_secretary):
        a2 = OrganizationFactory(name="东二支部", parent=org_tree.east)
        # East's secretary may move within the east: still inside the organization they lead.
        services.member_transfer(member=east_secretary.member, to_organization=a2, actor=None)
        with pytest.raises(ValidationError, match="是东社区党委的书记，转出前请先更换书记"):
            services.member_transfer(member=east_secretary.member, to_organization=org_tree.branch_b, actor=None)
        with pytest.raises(ValidationError, match="是东一支部的书记"):
            services.member_transfer(member=secretary_a.member, to_organization=a2, actor=None)

    def test_a_secretary_is_replaced_before_being_deactivated(self, secretary_a):
        with pytest.raises(ValidationError, match="东一支部的书记将不再是本组织在册党员"):
            services.member_deactivate(member=secretary_a.member, actor=None)

    def test_moving_a_branch_away_from_its_committees_secretary_is_refused(self, org_tree, east_secretary):
        with pytest.raises(ValidationError, match="东社区党委的书记将不再是本组织在册党员"):
            services.organization_move(organization=org_tree.branch_a, new_parent=org_tree.west, actor=None)
        # Within the street the street's own secretary (if any) is unaffected; the east has to be re-staffed first.
        assert Organization.objects.get(pk=org_tree.branch_a.pk).parent == org_tree.east
