"""WeChat sign-in: binding a WeChat identity to a member's account, signing in with it, unbinding it.

A WeChat identity (members.wechat.Identity) signs in only the account it is bound to. The first time, the member
proves the phone on file with an SMS code of purpose WECHAT_BIND (the machinery of sign_in_codes.py: hashed,
5 minutes, 5 tries, the same answer for an unknown number); nothing here ever makes an account. The constraints of
WeChatBinding keep one binding per account and app and one account per openid (and unionid) and app, so two
binds of one WeChat at once leave one row.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from core.types import User

from ..models import SignInCodePurpose, WeChatBinding
from ..wechat import Identity
from .sign_in_codes import _check, _close_used, wrong_code_error


def _taken_error() -> ValidationError:
    return ValidationError(
        _("这个微信已绑定平台上的另一个账号。请用那个账号登录，在“我的”页面解除绑定后再来绑定。"), code="wechat_taken"
    )


def _create(*, user: User, identity: Identity) -> WeChatBinding:
    try:
        with transaction.atomic():  # a savepoint: the loser of a race gets the error, not a broken transaction
            return WeChatBinding.objects.create(
                user=user,
                app=identity.app,
                openid=identity.openid,
                unionid=identity.unionid,
                nickname=identity.nickname,
                last_sign_in_at=timezone.now(),
            )
    except IntegrityError as exc:
        raise _taken_error() from exc


@transaction.atomic
def wechat_sign_in(*, identity: Identity) -> User | None:
    """The active account `identity` signs in, or None when it is bound to none (the caller then asks for the
    phone). A unionid already bound through another of our apps is the same person: this app is bound to the same
    account too, when that account has none for it yet.

    Lock: the account row, when a binding is added; the constraints refuse a second binding of the openid."""
    binding = WeChatBinding.objects.select_related("user").filter(app=identity.app, openid=identity.openid).first()
    if binding is None and identity.unionid:
        other = WeChatBinding.objects.filter(unionid=identity.unionid).exclude(app=identity.app).only("user_id").first()
        if other is not None:
            user = User.objects.select_for_update().get(pk=other.user_id)
            if not WeChatBinding.objects.filter(user=user, app=identity.app).exists():
                try:
                    binding = _create(user=user, identity=identity)
                except ValidationError:
                    return None
    if binding is None or not binding.user.is_active:
        return None
    binding.last_sign_in_at = timezone.now()
    binding.save(update_fields=["last_sign_in_at"])
    return binding.user


def wechat_bind_with_code(*, identity: Identity, phone: str, code: str) -> User:
    """Bind `identity` to the active account whose WECHAT_BIND code for `phone` is `code`, use the code up, and
    return the account (the caller signs it in).

    Raises `wrong_code_error()` for an unknown number, no open code, an expired or wrong code — the same message
    every time, and a wrong entry counts (committed before the error is raised). With a right code: a
    ValidationError "wechat_taken" when the WeChat is bound to another account, "account_bound" when the account
    has another WeChat of this app (the code then stays unused). Binding the same WeChat again is no change.

    Lock: the open code row, then the account row; the constraints decide a race of two binds of one openid.
    """
    now = timezone.now()
    with transaction.atomic():
        row, right = _check(phone=phone, code=code, purpose=SignInCodePurpose.WECHAT_BIND, now=now)
        if row is not None and right:
            user = User.objects.select_for_update().get(pk=row.user_id)
            existing = WeChatBinding.objects.filter(app=identity.app, openid=identity.openid).first()
            if existing is not None and existing.user_id != user.pk:
                raise _taken_error()
            if existing is None:
                if WeChatBinding.objects.filter(user=user, app=identity.app).exists():
                    raise ValidationError(
                        _("您的账号已绑定另一个微信。请先登录，在“我的”页面解除绑定后再绑定这个微信。"),
                        code="account_bound",
                    )
                if (
                    identity.unionid
                    and WeChatBinding.objects.filter(unionid=identity.unionid).exclude(user=user).exists()
                ):
                    raise _taken_error()
                _create(user=user, identity=identity)
            _close_used(row, now)
            return user
    raise wrong_code_error()


@transaction.atomic
def wechat_unbind(*, user: User, binding_id: int) -> bool:
    """Remove the account's binding `binding_id`; False when the account has no such binding (someone else's, or
    already removed). The account then signs in by password or SMS code, or binds WeChat again."""
    deleted, _rows = WeChatBinding.objects.filter(user=user, pk=binding_id).delete()
    return deleted > 0
