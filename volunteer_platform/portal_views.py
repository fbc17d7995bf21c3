"""The member portal's pages that show more than one app: the site composes them from each app's selectors.

/me/ (the member's next actions — activities, claimed wishes, messages, points and stars — their feedback and plan
tasks: the landing of a member after signing in), the service-record
certificate (with the current stars) for the member and for a secretary, and the member's data download (each app's
sections). The members app keeps its own pages (members/views.py); volunteer_platform/urls.py serves both under the
"members" namespace.
"""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from audit.models import AuditEvent
from audit.selectors import api_devices
from audit.services import api_token_revoke as audit_revoke
from audit.services import audit_record
from core import public_cache
from core.member_cache import member_page
from core.times import local_iso
from incentives import selectors as incentive_selectors
from members import availability, wechat
from members import selectors as member_selectors
from members.certificate import certificate_for, content_disposition, render_pdf
from members.models import Member
from news import selectors as news_selectors

from . import selectors


def _own_member(request, *, full: bool = False) -> Member:
    """The signed-in user's member record; 404 for an account without one (a resident, a platform admin)."""
    find = member_selectors.member_profile_for if full else member_selectors.member_for
    member = find(request.user)
    if member is None:
        raise Http404(_("您的账号没有关联党员信息。"))
    return member


@login_required
@require_GET
@member_page
def me(request):
    member = _own_member(request, full=True)
    context = {
        "member": member,
        "residence": member.active_residences[0] if member.active_residences else None,
        "availability": availability.grid(member.availability),
        "periods": [label for _code, label in availability.PERIODS],
        "total_hours": member_selectors.counted_hours(member),
        "stars": incentive_selectors.star_standing(member),
        "feedback": selectors.member_feedback(member),
        "tasks": selectors.own_tasks(request.user),
        "next": selectors.next_actions(member, request.user),
        "news": news_selectors.latest_news_for_member(member),
        "wechat_bindings": list(member_selectors.wechat_bindings(request.user)),
        "wechat_offered": wechat.any_configured(),
    }
    response = render(request, "members/me.html", context)
    # The kept page (core/member_cache.py) is not served once the first activity listed has started.
    public_cache.stale_at(response, context["next"].changes_at)
    return response


def _certificate_response(member: Member, handler) -> HttpResponse:
    certificate = certificate_for(member, handler=handler, stars=incentive_selectors.star_standing(member).stars)
    response = HttpResponse(render_pdf(certificate), content_type="application/pdf")
    response["Content-Disposition"] = content_disposition(certificate)
    return response


@never_cache
@login_required
@require_GET
def me_certificate(request):
    return _certificate_response(_own_member(request), request.user)


@never_cache
@login_required
@require_GET
def member_certificate(request, volunteer_number: str):
    """A secretary prints a member's certificate (their scope only: 404 outside it); the print is audited."""
    member = member_selectors.certificate_member(request.user, volunteer_number)
    if member is None:
        raise Http404(_("找不到该党员。"))
    audit_record(action=AuditEvent.Action.EXPORT, request=request, obj=member, detail={"kind": "certificate"})
    return _certificate_response(member, request.user)


@login_required
@require_GET
@never_cache
def me_data_download(request):
    """The member's own data as JSON (PIPL art. 45), every app's part, every full value included; audited."""
    member = _own_member(request)
    data = {
        "generated_at": local_iso(timezone.now()),
        **member_selectors.personal_data(member),
        **selectors.personal_data_sections(member),
    }
    payload = json.dumps(data, ensure_ascii=False, indent=2)
    audit_record(action=AuditEvent.Action.EXPORT, request=request, obj=member, detail={"kind": "personal_data"})
    response = HttpResponse(payload, content_type="application/json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="personal-data-{member.volunteer_number}.json"'
    return response


@never_cache
@login_required
@require_GET
def devices(request):
    """/me/devices/: the phones and apps signed in to the API with this account, each with a button that signs it
    out. Not a part of /me/, whose kept page must not hold a list that changes by itself."""
    return render(request, "devices.html", {"devices": api_devices(request.user)})


@login_required
@require_POST
def device_revoke(request, pk: int):
    if not audit_revoke(user=request.user, token_id=pk):
        raise Http404(_("找不到该设备。"))
    messages.success(request, _("已让该设备退出登录。"))
    return redirect("members:me_devices")
