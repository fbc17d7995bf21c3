"""Sign-in and sign-out: Django's views, following a `next` only when it is a path on this site (core/redirects.py).

Django's own check lets a bare word through as a relative URL (`undefined` → /accounts/login/undefined); here
anything but a path falls back to LOGIN_REDIRECT_URL / LOGOUT_REDIRECT_URL, and the sign-in page does not carry it.
"""

from django.contrib.auth import views as auth_views
from django.urls import reverse

from core.redirects import safe_next_url
from members.selectors import member_for

from .forms import SignInForm
from .selectors import dashboard_root


class _SafeNextMixin:
    def get_redirect_url(self):
        name = self.redirect_field_name
        value = self.request.POST.get(name, self.request.GET.get(name))
        return safe_next_url(self.request, value) or ""


class SignInView(_SafeNextMixin, auth_views.LoginView):
    authentication_form = SignInForm

    def get_default_redirect_url(self):
        """Where a sign-in without a `next` lands: whoever manages an organization on its 工作台 (the dashboard),
        a member on 我的 (/me/), anyone else on the home page."""
        user = self.request.user
        if dashboard_root(user) is not None:
            return reverse("dashboard:index")
        if member_for(user) is not None:
            return reverse("members:me")
        return super().get_default_redirect_url()


class SignOutView(_SafeNextMixin, auth_views.LogoutView):
    pass
