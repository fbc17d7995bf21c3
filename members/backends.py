"""Sign-in with a username or with the mainland mobile number a member is registered with."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend

from core.crypto import blind_index

from .identifiers import looks_like_id_number, looks_like_mobile, normalize_id_number, normalize_mobile
from .models import Member

User = get_user_model()


def sign_in_identifier(request, credentials: dict) -> str:
    """What django-axes counts failures against (AXES_USERNAME_CALLABLE), also the audit trail's `username_hash`:
    a keyed hash (`blind_index`) of the identifier in its normal form, never the identifier itself — axes keeps it
    in its tables and log lines, and members sign in with their phone numbers. A mobile or an ID number counts in
    its normal form, so "138 0013 8000" and "13800138000" share one failure count; the hash then equals the
    member's own `phone_hash` / `id_number_hash`, which lets an administrator match an attempt to a member."""
    identifier = str((credentials or {}).get(User.USERNAME_FIELD) or request.POST.get(User.USERNAME_FIELD, "")).strip()
    if not identifier:
        return ""
    if looks_like_mobile(identifier):
        identifier = normalize_mobile(identifier)
    elif looks_like_id_number(identifier):
        identifier = normalize_id_number(identifier)
    return blind_index(identifier)


class PhoneOrUsernameBackend(ModelBackend):
    """ModelBackend (permissions included) whose "username" may also be a member's phone number in any spelling.

    An account whose username is exactly what was typed wins over a phone match, so an existing username never
    becomes unreachable. Phones are stored encrypted: the lookup goes through the blind index (`phone_hash`).
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if username is None:
            username = kwargs.get(User.USERNAME_FIELD)
        if not username or password is None:
            return None
        user = self._find_user(username)
        if user is None:
            # Hash anyway, so a wrong identifier takes as long as a wrong password (as ModelBackend does).
            User().set_password(password)
            return None
        if user.check_password(password) and self.user_can_authenticate(user):
            return user
        return None

    def _find_user(self, identifier: str):
        try:
            return User._default_manager.get_by_natural_key(identifier)
        except User.DoesNotExist:
            pass
        if not looks_like_mobile(identifier):
            return None
        member = (
            Member.objects.select_related("user").filter(phone_hash=blind_index(normalize_mobile(identifier))).first()
        )
        return member.user if member is not None else None
