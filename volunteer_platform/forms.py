from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from core.forms import TextGuardMixin


class _BoundedUsernameMixin(TextGuardMixin):
    """Django's sign-in form sets the username's max_length (150, the column's) after the field is built, so it
    only reaches the HTML attribute: a longer value went on to authenticate() and into django-axes' 255-character
    column (a 500). Here it is refused by the form, with the limit in the message, before anyone is asked."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        username = self.fields["username"]
        username.validators.append(MaxLengthValidator(username.max_length))


class SignInForm(_BoundedUsernameMixin, AuthenticationForm):
    """Django's sign-in form, saying that a member may also type their mobile number (members/backends.py), and
    what happens after repeated wrong passwords (django-axes, settings AXES_*)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["username"].label = _("用户名或手机号")

    def get_invalid_login_error(self):
        return ValidationError(
            _("用户名（或手机号）或密码不正确。连续输错 %(limit)d 次后，本设备将暂停登录该账号 %(minutes)d 分钟。"),
            code="invalid_login",
            params={
                "limit": settings.AXES_FAILURE_LIMIT,
                "minutes": int(settings.AXES_COOLOFF_TIME.total_seconds() // 60),
            },
        )


class AdminSignInForm(_BoundedUsernameMixin, AdminAuthenticationForm):
    """The admin's sign-in form (AdminSite.login_form) with the same bounded username."""
