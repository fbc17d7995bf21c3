"""Invariants the database keeps even when a bug or a race bypasses the services."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from members import services
from members.availability import FULL_MASK, available_in, from_mask, to_mask
from members.models import Member, ResidenceRegistration, ServiceRecord, ServiceRecordCorrection
from tests.factories import UserFactory
from tests.members.factories import MemberFactory, ServiceRecordFactory

pytestmark = pytest.mark.django_db


def _record_row(member, *, hours, span=timedelta(hours=2), **extra):
    """Insert a ServiceRecord directly (no service): what only the database stops."""
    start = timezone.now().replace(microsecond=0) - timedelta(days=1)
    values = {
        "member": member,
        "date": timezone.localdate(start),
        "started_at": start,
        "ended_at": start + span,
        "place": "活动中心",
        "content": "服务",
        "hours": hours,
        "organizer": "李书记",
        "recording_organization": member.organization,
    }
    values.update(extra)
    return ServiceRecord.objects.create(**values)


def _violates(name: str):
    return pytest.raises(IntegrityError, match=name)


class TestServiceRecordConstraints:
    @pytest.mark.parametrize("hours", [Decimal("0"), Decimal("-1.5")])
    def test_hours_must_be_positive(self, member_a, hours):
        with transaction.atomic(), pytest.raises(IntegrityError):
            _record_row(member_a, hours=hours)
        assert not ServiceRecord.objects.exists()

    def test_hours_may_not_exceed_the_span(self, member_a):
        with transaction.atomic(), pytest.raises(IntegrityError):
            _record_row(member_a, hours=Decimal("2.01"), span=timedelta(hours=2))
        assert not ServiceRecord.objects.exists()

    @pytest.mark.parametrize(
        ("hours", "span"),
        [
            (Decimal("2.00"), timedelta(hours=2)),
            # 0.05 h is 180 s exactly; without ROUND, SQLite's float arithmetic makes it 180.00000000000003 > 180.
            (Decimal("0.05"), timedelta(minutes=3)),
            (Decimal("1.33"), timedelta(minutes=80)),
        ],
    )
    def test_hours_equal_to_the_span_are_accepted(self, member_a, hours, span):
        record = _record_row(member_a, hours=hours, span=span)
        assert ServiceRecord.objects.get(pk=record.pk).hours == hours

    def test_end_must_follow_start(self, member_a):
        with transaction.atomic(), pytest.raises(IntegrityError):
            _record_row(member_a, hours=Decimal("1"), span=timedelta(0))

    @pytest.mark.parametrize("evaluation", [0, 6])
    def test_evaluation_is_one_to_five(self, member_a, evaluation):
        with transaction.atomic(), pytest.raises(IntegrityError):
            _record_row(member_a, hours=Decimal("1"), evaluation=evaluation)

    def test_same_source_ref_for_the_same_member_is_one_row(self, member_a, member_b):
        _record_row(member_a, hours=Decimal("1"), source="activity", source_ref="activity:7")
        _record_row(member_b, hours=Decimal("1"), source="activity", source_ref="activity:7")  # another member: fine
        with transaction.atomic(), pytest.raises(IntegrityError):
            _record_row(member_a, hours=Decimal("1"), source="activity", source_ref="activity:7")
        # Without a source_ref (manual entries) nothing is unique.
        _record_row(member_a, hours=Decimal("1"))
        _record_row(member_a, hours=Decimal("1"))
        assert ServiceRecord.objects.filter(member=member_a).count() == 3

    def test_verified_needs_a_verification_time(self, member_a):
        with transaction.atomic(), pytest.raises(IntegrityError):
            _record_row(member_a, hours=Decimal("1"), status="verified")

    def test_one_pending_correction_per_record(self, member_a, secretary_a):
        record = ServiceRecordFactory(member=member_a)
        services.service_record_verify(record=record, verifier=secretary_a)
        ServiceRecordCorrection.objects.create(record=record, new_hours=Decimal("1"), reason="多记了")
        with transaction.atomic(), pytest.raises(IntegrityError):
            ServiceRecordCorrection.objects.create(record=record, new_hours=Decimal("1.5"), reason="再改")

    def test_a_correction_must_change_something(self, member_a):
        record = ServiceRecordFactory(member=member_a)
        with transaction.atomic(), pytest.raises(IntegrityError):
            ServiceRecordCorrection.objects.create(record=record, reason="没有内容")


class TestMemberConstraints:
    def test_volunteer_number_is_unique(self, member_a, org_tree):
        other = Member(
            user=UserFactory(),
            volunteer_number=member_a.volunteer_number,
            name="重复",
            organization=org_tree.branch_a,
        )
        with transaction.atomic(), pytest.raises(IntegrityError):
            other.save()

    def test_phone_hash_is_unique_but_blank_phones_are_not(self, member_a, org_tree):
        duplicate = Member(user=UserFactory(), volunteer_number="V1", name="重复", organization=org_tree.branch_a)
        duplicate.set_phone(member_a.phone)
        with transaction.atomic(), pytest.raises(IntegrityError):
            duplicate.save()
        for number in ("V2", "V3"):
            Member.objects.create(
                user=UserFactory(), volunteer_number=number, name="无手机", organization=org_tree.branch_a
            )
        assert Member.objects.filter(phone_hash="").count() == 2

    def test_availability_fits_in_21_bits(self, member_a):
        with transaction.atomic(), pytest.raises(IntegrityError):
            Member.objects.filter(pk=member_a.pk).update(availability=FULL_MASK + 1)

    def test_public_consent_needs_its_time(self, member_a):
        with transaction.atomic(), pytest.raises(IntegrityError):
            Member.objects.filter(pk=member_a.pk).update(show_full_name_publicly=True)

    def test_phone_and_id_number_are_encrypted_at_rest(self, member_a):
        services.member_update_profile(member=member_a, actor=None, id_number="11010519491231002X")
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT phone, id_number FROM members_member WHERE id = %s", [member_a.pk])
            stored_phone, stored_id = cursor.fetchone()
        assert member_a.phone not in stored_phone
        assert "11010519491231002X" not in stored_id
        assert Member.objects.get(pk=member_a.pk).id_number == "11010519491231002X"
        # The audit trail keeps the phone encrypted too, and never the ID number or the lookup hashes.
        history = {f.name for f in Member.history.model._meta.fields}
        assert {"id_number", "id_number_hash", "phone_hash"}.isdisjoint(history)
        with connection.cursor() as cursor:
            cursor.execute("SELECT phone FROM members_historicalmember WHERE id = %s", [member_a.pk])
            assert all(member_a.phone not in phone for (phone,) in cursor.fetchall())
        assert member_a.history.latest().phone == member_a.phone


def test_one_active_residence_registration_per_member(member_a, org_tree):
    today = timezone.localdate()
    ResidenceRegistration.objects.create(member=member_a, community=org_tree.community_a, registered_on=today)
    with transaction.atomic(), pytest.raises(IntegrityError):
        ResidenceRegistration.objects.create(member=member_a, community=org_tree.community_b, registered_on=today)
    # Ended registrations are history and do not count.
    ResidenceRegistration.objects.filter(member=member_a).update(status="ended", ended_at=timezone.now())
    ResidenceRegistration.objects.create(member=member_a, community=org_tree.community_b, registered_on=today)
    assert member_a.residence_registrations.count() == 2


def test_availability_round_trips_and_filters_in_sql(org_tree):
    free_wed_pm = MemberFactory(organization=org_tree.branch_a)
    services.member_update_profile(member=free_wed_pm, actor=None, availability=to_mask(["wed-pm", "sat-am"]))
    MemberFactory(organization=org_tree.branch_a)  # availability 0
    assert from_mask(to_mask(["sat-am", "wed-pm"])) == ["wed-pm", "sat-am"]
    assert list(available_in(Member.objects.all(), "wed-pm")) == [free_wed_pm]
    assert not available_in(Member.objects.all(), "wed-am").exists()


def test_availability_slot_labels_follow_the_active_language():
    """The labels are lazy: a label built at import would stay in the language active then."""
    from django.utils import translation

    from members.availability import SLOT_CHOICES

    slot, label = SLOT_CHOICES[0]
    assert slot == "mon-am"
    with translation.override("zh-hans"):
        assert str(label) == "周一上午"
    with translation.override("en"):
        assert str(label) == "Monday Morning"


def test_organization_admins_changed_from_either_side_are_in_its_history(org_tree):
    """simple-history records the organization when its admins change, also from the account's side
    (`user.administered_organizations`), where simple-history itself raised AttributeError."""
    user = UserFactory()
    org = org_tree.branch_a

    def admins_in_history():
        latest = org.history.latest()
        return latest.history_type, sorted(latest.admins.values_list("user_id", flat=True))

    org.admins.add(user)
    assert admins_in_history() == ("~", [user.pk])
    user.administered_organizations.remove(org)
    assert admins_in_history() == ("~", [])
    user.administered_organizations.add(org, org_tree.branch_b)
    assert admins_in_history() == ("~", [user.pk])
    assert org_tree.branch_b.history.latest().history_type == "~"
    before = org.history.count()
    user.administered_organizations.clear()
    assert admins_in_history() == ("~", [])
    assert org.history.count() == before + 1
    assert list(org_tree.branch_b.history.latest().admins.all()) == []
