"""The identifier typed at a sign-in is no longer kept in clear (it may be a member's phone or ID number): the trail
keeps it masked with a keyed hash beside it, django-axes only the keyed hash. This migration treats the rows stored
before, as the code does now (audit.sign_in, members.backends.sign_in_identifier); the normalisation of phone and
ID numbers is copied here, as a migration must not change with the code it once ran with.
"""

import hashlib
import hmac
import re

from django.conf import settings
from django.db import migrations, models

from core.masking import mask_identifier

_SEPARATORS = re.compile(r"[\s\-()（）]")
_MOBILE = re.compile(r"1[3-9]\d{9}")
_ID = re.compile(r"\d{17}[\dX]")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
_SIGN_IN_ACTIONS = ("login_failed", "lockout")
_BATCH = 1000


def _normal(identifier: str) -> str:
    """members.validators at the time: a mobile or a valid ID number in its normal form, anything else as typed."""
    identifier = identifier.strip()
    digits = _SEPARATORS.sub("", identifier)
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
            break
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if _MOBILE.fullmatch(digits):
        return digits
    number = _SEPARATORS.sub("", identifier).upper()
    if _ID.fullmatch(number):
        total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS, strict=True))
        if _ID_CHECK[total % 11] == number[17]:
            return number
    return identifier


def _hash(identifier: str) -> str:
    """core.crypto.blind_index of the normal form ("" stays "")."""
    if not identifier.strip():
        return ""
    return hmac.new(settings.FIELD_HMAC_KEY.encode(), _normal(identifier).encode(), hashlib.sha256).hexdigest()


def mask_sign_in_identifiers(apps, schema_editor):
    AuditEvent = apps.get_model("audit", "AuditEvent")
    User = apps.get_model(settings.AUTH_USER_MODEL)
    events = AuditEvent.objects.filter(action__in=_SIGN_IN_ACTIONS, username_hash="").exclude(username="")
    batch = []
    for event in events.only("pk", "username").iterator(chunk_size=_BATCH):
        typed = event.username
        event.username_hash = _hash(typed)
        is_account = User._default_manager.filter(**{User.USERNAME_FIELD: typed}).exists()
        event.username = mask_identifier(typed, public=is_account)
        batch.append(event)
        if len(batch) == _BATCH:
            AuditEvent.objects.bulk_update(batch, ["username", "username_hash"])
            batch = []
    AuditEvent.objects.bulk_update(batch, ["username", "username_hash"])

    for name in ("AccessFailureLog", "AccessLog"):
        model = apps.get_model("axes", name)
        for row in model.objects.exclude(username=None).exclude(username="").only("pk", "username").iterator():
            model.objects.filter(pk=row.pk).update(username=_hash(row.username))

    # An attempt counts failures per (username, address, browser), unique: two spellings of one number that the
    # old code kept apart become one row, with their failures added up.
    AccessAttempt = apps.get_model("axes", "AccessAttempt")
    kept = {}
    for attempt in AccessAttempt.objects.exclude(username=None).exclude(username="").order_by("pk"):
        attempt.username = _hash(attempt.username)
        key = (attempt.username, attempt.ip_address, attempt.user_agent)
        if key in kept:
            first = kept[key]
            first.failures_since_start += attempt.failures_since_start
            first.attempt_time = max(first.attempt_time, attempt.attempt_time)
            attempt.delete()
        else:
            kept[key] = attempt
    for attempt in kept.values():
        AccessAttempt.objects.filter(pk=attempt.pk).update(
            username=attempt.username,
            failures_since_start=attempt.failures_since_start,
            attempt_time=attempt.attempt_time,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("audit", "0001_audit_trail_and_sessions"),
        ("axes", "0010_accessattemptexpiration"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="username_hash",
            field=models.CharField(blank=True, max_length=64, verbose_name="用户名散列"),
        ),
        migrations.AddIndex(
            model_name="auditevent",
            index=models.Index(
                condition=models.Q(("username_hash", ""), _negated=True),
                fields=["username_hash"],
                name="audit_event_username_hash",
            ),
        ),
        # Backwards: the columns stay as they are (what was typed cannot be recovered from its mask and hash).
        migrations.RunPython(mask_sign_in_identifiers, migrations.RunPython.noop),
    ]
