"""SMS codes: signing in with a code texted to the member's phone, and setting a new password with one.

A code is 6 random digits, works SIGN_IN_CODE_TTL_SECONDS (5 minutes) and at most `SignInCode.MAX_ATTEMPTS` wrong
entries; a newer code of the same purpose replaces it. Only a keyed hash of it is stored. A page asks through
`sign_in_code_request`, whose task looks the number up and makes the code, so the page answers alike for a known
and an unknown number; the SMS is then sent by a second task after the commit (`members.tasks.send_sign_in_code`),
with the code sealed (`core.crypto.encrypt`) in the task's arguments, not through the outbox: the outbox keeps its
context readable in the admin, and a code is worth nothing five minutes late, so it is sent once at once or the
member asks again.

No enumeration: asking for a code for a number no active account has answers exactly as for a known one (the views
show the same page), and entering a code for it answers "wrong or expired". The rate limits (settings
SIGN_IN_CODE_*_LIMIT) are counted by the views, by number and by address, whether the number is known or not.
"""

import logging
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from audit.services import api_tokens_revoke
from core.crypto import blind_index, encrypt
from core.types import User

from .. import tasks  # tasks.py imports the services too: both import the module, never its names
from ..identifiers import normalize_mobile
from ..models import Member, SignInCode, SignInCodeOutcome, SignInCodePurpose

logger = logging.getLogger(__name__)

CODE_DIGITS = 6
# A code's rows are kept this long after it was sent, for the admin to see when codes went to an account; then the
# next code of the same account removes them.
KEPT_FOR = timedelta(days=7)


def wrong_code_error() -> ValidationError:
    return ValidationError(_("验证码不正确或已失效。请核对短信中的6位数字，或重新获取验证码。"), code="wrong_code")


def _code_hash(*, user_id: int, purpose: str, created_at: datetime, code: str) -> str:
    # Keyed (blind_index: HMAC with the key of the phone index) and bound to the account, the purpose and the moment
    # it was sent, so one hash matches one code of one row.
    return blind_index(f"sign-in-code:{user_id}:{purpose}:{int(created_at.timestamp())}:{code}")


def account_for_phone(phone: str) -> User | None:
    """The active account of the member registered with `phone` (any spelling), or None."""
    try:
        normalized = normalize_mobile(phone)
    except ValidationError:
        return None
    member = Member.objects.select_related("user").filter(phone_hash=blind_index(normalized)).first()
    if member is None or not member.user.is_active:
        return None
    return member.user


def sign_in_code_request(*, phone: str, purpose: str) -> None:
    """Ask for a code for `phone` the same way whether an account has it or not: the lookup, the code and the SMS
    happen in a task (`members.tasks.create_sign_in_code`, the number sealed in its arguments), so the page that asks
    does the same work, and takes the same time, for a known number and an unknown one. A broker failure is
    logged, not raised (the member, who gets no SMS, asks again after a minute)."""
    SignInCodePurpose(purpose)
    try:
        tasks.create_sign_in_code.delay(encrypt(phone), purpose)
    except Exception:
        logger.warning("could not queue a sign-in code request", exc_info=True)


@transaction.atomic
def sign_in_code_send(*, phone: str, purpose: str) -> SignInCode | None:
    """Text a new code for `purpose` to `phone` if an active member's account has it; return the code's row, or None
    for a number no active account has (the task of `sign_in_code_request` calls this; nobody waits for it).

    Lock: the account row, so two requests at once leave one open code (the newer replaces the older, which is
    closed as REPLACED; the constraint members_signincode_one_open keeps it so). The SMS task is published after
    the commit: a rollback sends nothing.
    """
    SignInCodePurpose(purpose)
    user = account_for_phone(phone)
    if user is None:
        return None
    user = User.objects.select_for_update().get(pk=user.pk)
    now = timezone.now()
    SignInCode.objects.filter(user=user, created_at__lt=now - KEPT_FOR).delete()
    SignInCode.objects.filter(user=user, purpose=purpose, outcome=SignInCodeOutcome.OPEN).update(
        outcome=SignInCodeOutcome.REPLACED, closed_at=now
    )
    code = f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"
    row = SignInCode.objects.create(
        user=user,
        purpose=purpose,
        code_hash=_code_hash(user_id=user.pk, purpose=purpose, created_at=now, code=code),
        created_at=now,
        expires_at=now + timedelta(seconds=settings.SIGN_IN_CODE_TTL_SECONDS),
    )
    sealed = encrypt(code)
    transaction.on_commit(lambda: _publish(row.pk, sealed))
    return row


def _publish(code_id: int, sealed: str) -> None:
    """Queue the SMS; a broker failure is logged, not raised: the page answers as always, and the member, who gets
    no SMS, asks again after a minute (a code is not worth sending later, so nothing retries it)."""
    try:
        tasks.send_sign_in_code.delay(code_id, sealed)
    except Exception:
        logger.warning("could not queue the SMS of sign-in code %s", code_id, exc_info=True)


def sign_in_code_deliver(*, code_id: int, code: str) -> bool:
    """Text `code` of the open row `code_id` to its member's phone now (the task's work); False when the row is no
    longer open or expired, or the code is not its code (nothing is sent). Gateway errors propagate to the task."""
    from notifications.services import sms_send_now

    row = SignInCode.objects.select_related("user__member").filter(pk=code_id).first()
    if row is None or row.outcome != SignInCodeOutcome.OPEN or row.expires_at <= timezone.now():
        return False
    expected = _code_hash(user_id=row.user_id, purpose=row.purpose, created_at=row.created_at, code=code)
    if not secrets.compare_digest(expected, row.code_hash):
        return False
    member = row.user.member
    # A WeChat binding signs the member in: the sign-in code's text (one template fewer to get approved).
    reset = row.purpose == SignInCodePurpose.PASSWORD_RESET
    template = "members_password_reset_code" if reset else "members_sign_in_code"
    sms_send_now(
        phone=member.phone,
        template=template,
        context={"code": code, "minutes": settings.SIGN_IN_CODE_TTL_SECONDS // 60},
        reference=f"sign-in-code:{row.pk}",
    )
    return True


def _check(*, phone: str, code: str, purpose: str, now: datetime) -> tuple[SignInCode | None, bool]:
    """The open code row of `phone` for `purpose`, locked, and whether `code` is its code. A wrong code counts an
    attempt (and closes the row as EXHAUSTED at the last one), saved in the caller's transaction."""
    user = account_for_phone(phone)
    if user is None:
        return None, False
    row = (
        SignInCode.objects.select_for_update()
        .filter(user=user, purpose=purpose, outcome=SignInCodeOutcome.OPEN, expires_at__gt=now)
        .first()
    )
    if row is None:
        return None, False
    code = "".join(code.split())
    expected = _code_hash(user_id=row.user_id, purpose=row.purpose, created_at=row.created_at, code=code)
    if secrets.compare_digest(expected, row.code_hash):
        return row, True
    row.attempts += 1
    fields = ["attempts"]
    if row.attempts >= SignInCode.MAX_ATTEMPTS:
        row.outcome, row.closed_at = SignInCodeOutcome.EXHAUSTED, now
        fields += ["outcome", "closed_at"]
    row.save(update_fields=fields)
    return row, False


def _close_used(row: SignInCode, now: datetime) -> None:
    row.outcome, row.closed_at = SignInCodeOutcome.USED, now
    row.save(update_fields=["outcome", "closed_at"])


def sign_in_code_check(*, phone: str, code: str) -> User:
    """The account whose sign-in code for `phone` is `code`; the code is used up. Raises `wrong_code_error()` for
    anything else (unknown number, no open code, expired, wrong), the same message every time.

    Lock: the open code row (SELECT … FOR UPDATE), so of two entries of one code at once exactly one signs in.
    A wrong entry is committed before the error is raised: the attempts count even though the caller gets an error.
    """
    now = timezone.now()
    with transaction.atomic():
        row, right = _check(phone=phone, code=code, purpose=SignInCodePurpose.SIGN_IN, now=now)
        if row is not None and right:
            _close_used(row, now)
            return row.user
    raise wrong_code_error()


def password_reset_with_code(*, phone: str, code: str, password: str) -> User:
    """Set the password of the account whose password-reset code for `phone` is `code`, and use the code up.

    Raises `wrong_code_error()` as `sign_in_code_check` does, or a ValidationError keyed "new_password1" when the
    password fails AUTH_PASSWORD_VALIDATORS (the code is then not used up: the member chooses another password).
    Lock: the open code row, then the account row. Setting the password ends every other session of the account
    (their session hash no longer matches) and revokes its API tokens.
    """
    now = timezone.now()
    with transaction.atomic():
        row, right = _check(phone=phone, code=code, purpose=SignInCodePurpose.PASSWORD_RESET, now=now)
        if row is not None and right:
            user = User.objects.select_for_update().get(pk=row.user_id)
            try:
                password_validation.validate_password(password, user)
            except ValidationError as exc:
                raise ValidationError({"new_password1": exc.error_list}) from exc
            user.set_password(password)
            user.save(update_fields=["password"])
            api_tokens_revoke(user=user)  # and every device signed in to the API
            _close_used(row, now)
            return user
    raise wrong_code_error()
