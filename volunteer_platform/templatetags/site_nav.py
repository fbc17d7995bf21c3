"""`{% nav_sections %}`: the navigation bar's menus (nav/sections.html), grouped by what a person does — 心愿,
服务, 我的, 管理 — and rendered once per process for each language and kind of visitor (anonymous, signed in, staff).

Why: the menus are about 25 `{% url %}` reversals and as many translations on every page of the site, the largest
part of the layout. They depend only on the language and on whether the visitor is signed in and staff; URLs and
catalogues are fixed for the life of a process, so each variant is rendered once and kept in memory (a deploy starts
new processes). Under DEBUG they are rendered every time, so an edited template shows at once.
"""

from types import SimpleNamespace

from django import template
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import get_script_prefix, get_urlconf
from django.utils.translation import get_language

register = template.Library()
_rendered: dict[tuple, str] = {}


@register.simple_tag(takes_context=True)
def nav_sections(context):
    user = context.get("user")
    authenticated = bool(user is not None and user.is_authenticated)
    staff = authenticated and bool(user.is_staff)
    key = (get_language(), get_script_prefix(), get_urlconf() or settings.ROOT_URLCONF, authenticated, staff)
    html = _rendered.get(key)
    if html is None:
        # The menus see only these two facts about the visitor, so no one's page can leak into another's.
        viewer = SimpleNamespace(is_authenticated=authenticated, is_staff=staff)
        html = render_to_string("nav/sections.html", {"user": viewer})
        if not settings.DEBUG:
            _rendered[key] = html
    return html
