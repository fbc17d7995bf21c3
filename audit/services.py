"""Writes of the audit app: the trail (`audit_record`, `admin_changes_record`, `audit_events_purge`), sign-in
sessions (`user_session_remember`, `user_sessions_end`) and the API's device tokens (`api_token_issue`,
`api_token_rotate`, `api_token_revoke`, `api_tokens_revoke`). Each event goes to the database and to the
logger "audit"."""

import hashlib
import logging
import secrets
import unicodedata
from datetime import datetime, timedelta
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.admin.models import ADDITION, CHANGE, DELETION, LogEntry
from django.contrib.contenttypes.models import ContentType
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext as _

from core.net import client_ip
from core.types import Actor, User

from .models import ApiToken, AuditEvent, UserSession

logger = logging.getLogger("audit")

_FLAGS = {ADDITION: "addition", CHANGE: "change", DELETION: "deletion"}
# Unicode categories escaped in a log line: controls (CR, LF, ESC …), format characters (zero-width, bidi
# overrides that reorder what a reader sees) and the line/paragraph separators some viewers break lines at.
_UNSAFE_CATEGORIES = {"Cc", "Cf", "Zl", "Zp"}


def escape_for_log(value: object) -> str:
    """`value` as text that stays on one log line and cannot forge another field: a backslash and a double quote
    are escaped, and every control, format or line-separator character becomes \\xNN / \\uNNNN."""
    out = []
    for char in str(value):
        if char in ('"', "\\"):
            out.append("\\" + char)
        elif unicodedata.category(char) in _UNSAFE_CATEGORIES:
            code = ord(char)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(char)
    return "".join(out)


def _log_line(event: AuditEvent) -> str:
    fields = {
        "action": event.action,
        "user_id": event.user_id or "",
        "username": event.username,
        "username_hash": event.username_hash,
        "ip": event.ip or "",
        "method": event.method,
        "path": event.path,
        "object": f"{event.object_type}:{event.object_id}" if event.object_type else "",
        "object_repr": event.object_repr,
        "detail": event.detail,
    }
    return " ".join(f'{key}="{escape_for_log(value)}"' for key, value in fields.items() if value not in ("", {}))


def _emit(event: AuditEvent) -> None:
    logger.info(
        _log_line(event),
        extra={
            "audit": {
                "time": event.created_at.isoformat(),
                "action": event.action,
                "user_id": event.user_id,
                "username": event.username,
                "username_hash": event.username_hash,
                "ip": event.ip,
                "object_type": event.object_type,
                "object_id": event.object_id,
                "detail": event.detail,
            }
        },
    )


def _cut(value: object, length: int) -> str:
    # PostgreSQL text cannot hold NUL; a path or a typed name may contain one (%00).
    return str(value or "").replace("\x00", "\\x00")[:length]


def _db_safe(value: Any) -> Any:
    """`value` (JSON-like) with NUL escaped in every string, which jsonb refuses too."""
    if isinstance(value, str):
        return value.replace("\x00", "\\x00")
    if isinstance(value, dict):
        return {_db_safe(str(key)): _db_safe(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_db_safe(item) for item in value]
    return value


@transaction.atomic
def audit_record(
    *,
    action: str,
    request: HttpRequest | None = None,
    user: User | None = None,
    username: str = "",
    username_hash: str = "",
    obj: models.Model | None = None,
    object_type: str = "",
    object_id: str | int = "",
    object_repr: str = "",
    detail: dict | None = None,
) -> AuditEvent:
    """Store one event and send it to the logger "audit".

    User, IP (`core.net.client_ip`), method and path come from `request` unless given; the path is stored
    without its query string (which may hold a searched phone number). Text is cut to the columns' lengths.
    `username` without a user: what was typed at a sign-in, already masked, with `username_hash` (audit.sign_in).
    Invariant: an event is only ever inserted, never changed. No lock: one INSERT.
    """
    if action not in AuditEvent.Action.values:
        raise ValueError(f"not an audit action: {action}")
    if user is None and request is not None:
        request_user = getattr(request, "user", None)
        if request_user is not None and request_user.is_authenticated:
            user = request_user
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
        object_repr = object_repr or str(obj)
    event = AuditEvent.objects.create(
        action=action,
        user=user,
        username=_cut(user.get_username() if user is not None else username, 150),
        username_hash=_cut(username_hash, 64),
        ip=client_ip(request) if request is not None else None,
        method=_cut(request.method if request is not None else "", 10),
        path=_cut(request.path if request is not None else "", 300),
        object_type=_cut(object_type, 100),
        object_id=_cut(object_id, 64),
        object_repr=_cut(object_repr, 200),
        detail=_db_safe(detail or {}),
    )
    _emit(event)
    return event


def audit_events_purge(*, now: datetime | None = None, batch: int = 5000) -> int:
    """Delete the events older than AUDIT_RETENTION_DAYS (settings.py says why that long), and the admin's own log
    rows of that age which the trail copies (LogEntry: an object's name may be a member's); return how many events.

    The trail is a record of personal data (who signed in from where, whose data was looked at), kept as long as
    its purpose needs and no longer. No lock: events are only ever inserted, and deleting by age is idempotent.
    Each batch is its own short transaction, so a first run over a long trail holds no long lock.
    """
    cutoff = (now or timezone.now()) - timedelta(days=settings.AUDIT_RETENTION_DAYS)
    deleted = 0
    while True:
        ids = list(AuditEvent.objects.filter(created_at__lt=cutoff).order_by().values_list("pk", flat=True)[:batch])
        if not ids:
            break
        with transaction.atomic():
            deleted += AuditEvent.objects.filter(pk__in=ids).delete()[0]
    while True:
        ids = list(LogEntry.objects.filter(action_time__lt=cutoff).order_by().values_list("pk", flat=True)[:batch])
        if not ids:
            return deleted
        with transaction.atomic():
            LogEntry.objects.filter(pk__in=ids).delete()


def _content_type_label(content_type: ContentType | None) -> str:
    return f"{content_type.app_label}.{content_type.model}" if content_type is not None else ""


@transaction.atomic
def admin_changes_record(*, request: HttpRequest, since: datetime) -> list[AuditEvent]:
    """Copy the admin's own log rows (LogEntry: additions, changes, deletions, also the bulk ones) written by this
    request's user since `since` into the trail, with the request's IP.

    Invariant: a LogEntry is copied at most once (unique `admin_log_entry`; a conflicting row is skipped). No lock.
    """
    user = request.user
    if not isinstance(user, User):  # the admin's requests are signed in; nothing was logged otherwise
        return []
    entries = list(
        LogEntry.objects.filter(user=user, action_time__gte=since).select_related("content_type").order_by("pk")
    )
    if not entries:
        return []
    ip = client_ip(request)
    events = [
        AuditEvent(
            action=AuditEvent.Action.ADMIN_CHANGE,
            user=user,
            username=_cut(user.get_username(), 150),
            ip=ip,
            method=_cut(request.method, 10),
            path=_cut(request.path, 300),
            object_type=_cut(_content_type_label(entry.content_type), 100),  # type: ignore[arg-type]  # the stubs leave LogEntry.content_type generic
            object_id=_cut(entry.object_id, 64),
            object_repr=_cut(entry.object_repr, 200),
            detail=_db_safe(
                {"flag": _FLAGS.get(entry.action_flag, str(entry.action_flag)), "message": entry.change_message}
            ),
            admin_log_entry=entry,
        )
        for entry in entries
    ]
    AuditEvent.objects.bulk_create(events, ignore_conflicts=True)
    for event in events:
        _emit(event)
    return events


@transaction.atomic
def user_session_remember(*, user: User, session_key: str) -> UserSession:
    """Remember that `user` signed in with `session_key`, and forget this user's keys older than a session lives.

    Invariant: a session key is stored once (unique). No lock: keys are random and new at each sign-in.
    """
    cutoff = timezone.now() - timedelta(seconds=settings.SESSION_COOKIE_AGE)
    UserSession.objects.filter(user=user, created_at__lt=cutoff).delete()
    row, _created = UserSession.objects.get_or_create(session_key=session_key, defaults={"user": user})
    return row


@transaction.atomic
def user_sessions_end(*, user: User, actor: Actor = None, reason: str = "") -> int:
    """End every session `user` signed in with (they must sign in again), whatever the session backend, and record it.

    Lock: the user's UserSession rows (select_for_update), so two calls do not both try to delete the same keys.
    Invariant: afterwards no session recorded at one of the user's sign-ins exists. Returns how many were ended.
    """
    store = import_module(settings.SESSION_ENGINE).SessionStore
    keys = list(UserSession.objects.select_for_update().filter(user=user).values_list("session_key", flat=True))
    ended = 0
    for key in keys:
        session = store(session_key=key)
        if session.exists(key):
            session.delete(key)
            ended += 1
    UserSession.objects.filter(user=user, session_key__in=keys).delete()
    tokens = api_tokens_revoke(user=user)
    audit_record(
        action=AuditEvent.Action.SESSIONS_ENDED,
        user=actor,
        obj=user,
        object_repr=user.get_username(),
        detail={"sessions": ended, "tokens": tokens, "reason": reason},
    )
    return ended + tokens


# --- API device tokens --------------------------------------------------------------------------------------------


def api_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _new_token(*, user: User, device: str, now: datetime) -> tuple[ApiToken, str]:
    token = secrets.token_urlsafe(32)
    row = ApiToken.objects.create(
        user=user,
        token_hash=api_token_hash(token),
        device=device[: ApiToken._meta.get_field("device").max_length],
        expires_at=now + timedelta(days=settings.API_TOKEN_DAYS),
    )
    return row, token


@transaction.atomic
def api_token_issue(*, user: User, device: str = "") -> tuple[ApiToken, str]:
    """A new device token for `user` (who has just proved who they are): the row and the token, which is returned
    only here and stored only as its hash. Invariant: a hash is stored once (unique); expiry after creation (check)."""
    return _new_token(user=user, device=device, now=timezone.now())


@transaction.atomic
def api_token_rotate(*, token: ApiToken) -> tuple[ApiToken, str]:
    """Replace a live token by a new one with a new expiry; the old one stops working at once.

    Lock: the old row (select_for_update), so two rotations of one token give one new token, not two: the second
    finds it revoked and fails with ValidationError."""
    now = timezone.now()
    old = ApiToken.objects.select_for_update().get(pk=token.pk)
    if old.revoked_at is not None or old.expires_at <= now:
        raise ValidationError(_("令牌已失效，请重新登录。"), code="token_invalid")
    old.revoked_at = now
    old.save(update_fields=["revoked_at"])
    return _new_token(user=old.user, device=old.device, now=now)


@transaction.atomic
def api_token_revoke(*, user: User, token_id: int) -> bool:
    """Revoke one of `user`'s tokens (a device signs out, or the user ends it from /me/). Idempotent: a token
    already revoked, or another user's, changes nothing and answers False."""
    return bool(
        ApiToken.objects.filter(pk=token_id, user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
    )


def api_tokens_revoke(*, user: User) -> int:
    """Revoke every live token of `user` (deactivation, deletion, a new password); how many."""
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
