"""Rotating FIELD_ENCRYPTION_KEYS: a new key first, `reencrypt_personal_data`, then the old key can go."""

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from core import crypto
from members.models import Member
from tests.members.factories import MemberFactory

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


@pytest.fixture
def keys(settings):
    def use(*keys):
        settings.FIELD_ENCRYPTION_KEYS = list(keys)
        crypto._fernet.cache_clear()

    yield use
    crypto._fernet.cache_clear()


def stored_phone(member) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT phone FROM members_member WHERE id = %s", [member.pk])
        return cursor.fetchone()[0]


def test_a_rotation_moves_every_value_to_the_new_key(org_tree, keys, capsys):
    keys(OLD)
    members = [MemberFactory(organization=org_tree.branch_a, phone=f"1390000{i:04d}") for i in range(3)]
    Member.objects.filter(pk=members[1].pk).update(phone="")  # an empty value: nothing to re-encrypt
    before = stored_phone(members[0])

    keys(NEW, OLD)  # step 1: the new key first; both still read
    call_command("reencrypt_personal_data", stdout=None)
    assert "members.Member.phone: 2" in capsys.readouterr().out
    assert stored_phone(members[0]) != before

    keys(NEW)  # step 3: the old key removed — every value still reads
    assert [Member.objects.get(pk=m.pk).phone for m in members] == ["13900000000", "", "13900000002"]
    # History rows are encrypted columns too, and were rotated with the rest.
    assert Member.history.filter(id=members[2].pk).first().phone == "13900000002"


def test_without_the_rotation_the_old_values_no_longer_read(org_tree, keys):
    keys(OLD)
    member = MemberFactory(organization=org_tree.branch_a)
    keys(NEW)
    with pytest.raises(ImproperlyConfigured):
        Member.objects.get(pk=member.pk)


def test_every_encrypted_column_is_found(db):
    columns = {f"{model._meta.label}.{field.name}" for model, field in crypto.encrypted_columns()}
    assert {"members.Member.phone", "members.Member.id_number", "members.HistoricalMember.phone"} <= columns
