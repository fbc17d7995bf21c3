"""Every write of the members app.

Functions are keyword-only, typed and atomic; each docstring names the lock it takes and the invariant it keeps.
Rules a form must show before saving are the `check_*` functions of members/validators.py: forms call them in
`clean()`, services call them again inside the transaction, so each rule is written once. A broken rule raises
`django.core.exceptions.ValidationError` with a Chinese message (a dict keyed by field when the field is known).

Services do not decide who may call them — the admin and the views check scope through `members.selectors` first.
They record who acted: audited models (Member, Organization, ServiceRecord) get the actor and a reason in their
django-simple-history rows.
"""

from ..validators import NewMember
from ._common import UNSET
from .deletion import deletion_request_approve, deletion_request_create, deletion_request_reject, member_anonymise
from .invitations import (
    INVITATION_VALID_DAYS,
    invitation_path,
    member_invitation_accept,
    member_invite,
    member_update_own_profile,
)
from .membership import (
    member_create,
    member_deactivate,
    member_reactivate,
    member_set_name_consent,
    member_transfer,
    member_update_profile,
    volunteer_numbers_allocate,
)
from .organizations import organization_create, organization_move, organization_set_admins, organization_update
from .records import (
    service_record_correction_request,
    service_record_correction_review,
    service_record_create,
    service_record_verify,
    service_record_void,
    service_year_rebuild,
    service_years_rebuild_due,
    service_years_refresh,
)
from .residences import residence_confirm, residence_end, residence_register
from .roster import members_import
from .service_cards import _previous_quarter, service_cards_plan, service_cards_send
from .sign_in_codes import (
    account_for_phone,
    password_reset_with_code,
    sign_in_code_check,
    sign_in_code_deliver,
    sign_in_code_request,
    sign_in_code_send,
    wrong_code_error,
)
from .teams import team_create, team_update
from .wechat import wechat_bind_with_code, wechat_sign_in, wechat_unbind

__all__ = [
    "account_for_phone",
    "password_reset_with_code",
    "sign_in_code_check",
    "sign_in_code_deliver",
    "sign_in_code_request",
    "sign_in_code_send",
    "wrong_code_error",
    "INVITATION_VALID_DAYS",
    "NewMember",
    "UNSET",
    "_previous_quarter",
    "deletion_request_approve",
    "deletion_request_create",
    "deletion_request_reject",
    "invitation_path",
    "member_anonymise",
    "member_create",
    "member_deactivate",
    "member_invitation_accept",
    "member_invite",
    "member_reactivate",
    "member_set_name_consent",
    "member_transfer",
    "member_update_own_profile",
    "member_update_profile",
    "members_import",
    "organization_create",
    "organization_move",
    "organization_set_admins",
    "organization_update",
    "residence_confirm",
    "residence_end",
    "residence_register",
    "service_cards_plan",
    "service_cards_send",
    "service_record_correction_request",
    "service_record_correction_review",
    "service_record_create",
    "service_record_verify",
    "service_record_void",
    "service_year_rebuild",
    "service_years_rebuild_due",
    "service_years_refresh",
    "team_create",
    "team_update",
    "volunteer_numbers_allocate",
    "wechat_bind_with_code",
    "wechat_sign_in",
    "wechat_unbind",
]
