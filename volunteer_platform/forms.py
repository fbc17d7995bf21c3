from django import forms
from django.conf import settings
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth import password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from core.forms import GuardedForm, TextGuardMixin
from members.identifiers import normalize_mobile
from members.models import SignInCodePurpose

from .models import ReportKind


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


class CodeRequestForm(GuardedForm):
    """The mobile number an SMS code goes to (sign-in by code, password reset)."""

    phone = forms.CharField(
        label=_("手机号"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel", "placeholder": "13800138000"}),
    )

    def clean_phone(self):
        return normalize_mobile(self.cleaned_data["phone"])


class CodeForm(GuardedForm):
    """The 6-digit code of the SMS."""

    code = forms.CharField(
        label=_("短信验证码"),
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "pattern": "[0-9 ]{6,12}",
                "autofocus": True,
            }
        ),
    )

    def clean_code(self):
        code = "".join(self.cleaned_data["code"].split())
        if len(code) != 6 or not code.isascii() or not code.isdigit():
            raise ValidationError(_("请输入短信中的6位数字验证码。"), code="code_format")
        return code


class ApiCodeRequestForm(CodeRequestForm):
    """The API's request of an SMS code: to sign in (the default) or to bind a WeChat (the mini-program)."""

    purpose = forms.ChoiceField(
        label=_("用途"),
        required=False,
        choices=[
            (SignInCodePurpose.SIGN_IN, SignInCodePurpose.SIGN_IN.label),
            (SignInCodePurpose.WECHAT_BIND, SignInCodePurpose.WECHAT_BIND.label),
        ],
    )

    def clean_purpose(self):
        return self.cleaned_data["purpose"] or SignInCodePurpose.SIGN_IN


class WeChatCodeForm(GuardedForm):
    """A mini-program's sign-in: the code of wx.login() and the name of the device."""

    code = forms.CharField(label=_("微信登录凭证"), max_length=128, help_text="wx.login() → code")
    device = forms.CharField(label=_("设备名称"), max_length=60, required=False)


class WeChatBindForm(CodeRequestForm, CodeForm):
    """Binding the mini-program's WeChat: the ticket of its sign-in, the member's number and SMS code, the device."""

    bind_ticket = forms.CharField(label=_("绑定凭证"), max_length=1000, help_text="POST /auth/wechat/ → bind_ticket")
    device = forms.CharField(label=_("设备名称"), max_length=60, required=False)


class PasswordResetCodeForm(CodeForm):
    """The code and the new password, twice (the service checks AUTH_PASSWORD_VALIDATORS with the account)."""

    new_password1 = forms.CharField(
        label=_("新密码"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    new_password2 = forms.CharField(
        label=_("再次输入新密码"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"})
    )

    def clean(self):
        data = super().clean()
        first, second = data.get("new_password1"), data.get("new_password2")
        if first and second and first != second:
            self.add_error("new_password2", ValidationError(_("两次输入的密码不一致。"), code="password_mismatch"))
        return data


class SecondFactorForm(GuardedForm):
    """A code of the authenticator app (6 digits) or a recovery code (8 letters and digits)."""

    token = forms.CharField(
        label=_("验证码"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "autofocus": True, "autocapitalize": "off"}),
    )


class ReportRequestForm(GuardedForm):
    """Which report to build for the page's organization (上报报告): a quarter of a year, or a whole year."""

    kind = forms.ChoiceField(label=_("报告类型"), choices=ReportKind.choices, initial=ReportKind.QUARTERLY)
    year = forms.IntegerField(label=_("年度"), min_value=2000, max_value=2100)
    quarter = forms.TypedChoiceField(
        label=_("季度"),
        coerce=int,
        required=False,
        empty_value=None,
        choices=[
            (0, _("（年度报告不选）")),
            (1, _("第一季度")),
            (2, _("第二季度")),
            (3, _("第三季度")),
            (4, _("第四季度")),
        ],
    )

    def clean(self):
        cleaned = super().clean()
        cleaned["quarter"] = cleaned.get("quarter") or 0
        if cleaned.get("kind") == ReportKind.QUARTERLY and not cleaned["quarter"]:
            self.add_error("quarter", _("季度报告请选择季度。"))
        return cleaned
