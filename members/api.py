"""What the JSON API's views of every app above members share about the caller's member record."""

from django.utils.translation import gettext as _
from rest_framework.exceptions import NotFound

from .models import Member
from .selectors import member_for


def api_member(request, message: str | None = None) -> Member:
    """The calling account's member record, or 404 as the portal pages answer an account without one
    (members.decorators.member_required), with `message` or the general one."""
    member = member_for(request.user)
    if member is None:
        raise NotFound(message or _("该账号没有关联党员档案。"))
    return member
