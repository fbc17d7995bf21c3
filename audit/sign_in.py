"""The identifier typed at a sign-in, as the trail keeps it. Members sign in with their phone numbers, so what was
typed may be a phone, an ID number, a name — or a password typed into the wrong box — and it leaves its encrypted
home here: the trail and the log keep it masked for reading (`core.masking`; an account's own username, such as a
volunteer number, is shown as it is) beside a keyed hash for matching.

The hash is the one django-axes counts failures against: its AXES_USERNAME_CALLABLE
(members.backends.sign_in_identifier) normalises a phone or an ID number and hashes it with FIELD_HMAC_KEY, so the
attempts of one number in any spelling share one hash — equal to the member's own `phone_hash` — and the trail,
axes' tables and the members' rows are matched without the number itself. The trail asks axes (a framework API)
instead of importing the members app, which sits above it.
"""

from axes.helpers import get_client_username
from django.contrib.auth import get_user_model

from core.masking import mask_identifier


def identifier_hash(request, typed: str) -> str:
    """The keyed hash of `typed` that django-axes counts failures against ("" for nothing typed)."""
    if not str(typed or "").strip():
        return ""
    return get_client_username(request, {get_user_model().USERNAME_FIELD: str(typed)}) or ""


def identifier_shown(typed: str) -> str:
    """`typed` as the trail shows it: an account's username as it is, anything else masked (138****1234, 张**)."""
    typed = str(typed or "")
    if not typed.strip():
        return ""
    User = get_user_model()
    public = User._default_manager.filter(**{User.USERNAME_FIELD: typed}).exists()
    return mask_identifier(typed, public=public)
