"""Sign-in and sign-out: Django's views, following a `next` only when it is a path on this site (core/redirects.py).

Django's own check lets a bare word through as a relative URL (`undefined` → /accounts/login/undefined); here
anything but a path falls back to LOGIN_REDIRECT_URL / LOGOUT_REDIRECT_URL, and the sign-in page does not carry it.
"""

from django.contrib.auth import views as auth_views

from core.redirects import safe_next_url

from .forms import SignInForm


class _SafeNextMixin:
    def get_redirect_url(self):
        name = self.redirect_field_name
        value = self.request.POST.get(name, self.request.GET.get(name))
        return safe_next_url(self.request, value) or ""


class SignInView(_SafeNextMixin, auth_views.LoginView):
    authentication_form = SignInForm


class SignOutView(_SafeNextMixin, auth_views.LogoutView):
    pass
