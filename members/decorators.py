"""View decorators shared by the apps whose pages are a member's own (projects, incentives)."""

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .selectors import member_for


def member_required(template: str) -> Callable:
    """Signed in and linked to a member record, put on `request.member`; other accounts (staff and platform
    admins without a member record) get `template`, a 404 page that says why in the app's own words."""

    def decorate(view):
        @wraps(view)
        @login_required
        def wrapper(request, *args, **kwargs):
            request.member = member_for(request.user)
            if request.member is None:
                return render(request, template, status=404)
            return view(request, *args, **kwargs)

        return wrapper

    return decorate
