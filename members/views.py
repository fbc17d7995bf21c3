"""The member portal (/me/…), the invitation page and the secretaries' 双报到 queue and certificates.

Views are thin: they find the signed-in member or check scope through `members.selectors` (out of scope: 404),
validate with `members.portal_forms`, and write through `members.services`.
"""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.member_cache import member_page
from core.page_params import iso_date, page_number, strict

from . import selectors, services
from .forms import _add_errors
from .models import Member, ResidenceRegistration
from .portal_forms import (
    DeletionRequestForm,
    OwnCorrectionForm,
    OwnProfileForm,
    ProfileForm,
    RecordPeriodForm,
    ResidenceForm,
)
from .tokens import invitation_token_generator

RECORDS_PAGE_SIZE = 30
# After the first visit the token moves from the URL into the session, so it is not left in the browser's history
# or sent on as a Referer (the pattern of Django's PasswordResetConfirmView).
INVITATION_SESSION_KEY = "_members_invitation_token"
INVITATION_URL_TOKEN = "set-password"


def _own_member(request, *, full: bool = False) -> Member:
    """The signed-in user's member record; 404 for an account without one (a resident, a platform admin)."""
    member = selectors.member_profile_for(request.user) if full else selectors.member_for(request.user)
    if member is None:
        raise Http404(_("您的账号没有关联党员信息。"))
    return member


def _is_secretary(user) -> bool:
    return user.is_superuser or selectors.is_organization_admin(user)


# --- Member portal ----------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def me_profile(request):
    member = _own_member(request)
    form = OwnProfileForm(request.POST if request.method == "POST" else None, member=member)
    if request.method == "POST" and form.is_valid():
        try:
            services.member_update_own_profile(member=member, **form.profile_data())
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("个人信息已保存。"))
            return redirect("members:me")
    return render(request, "members/profile_form.html", {"form": form, "member": member})


@login_required
@require_http_methods(["GET", "POST"])
def me_residence(request):
    member = _own_member(request)
    form = ResidenceForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.residence_register(
                member=member,
                community=form.cleaned_data["community"],
                grid=form.cleaned_data["grid"],
                actor=request.user,
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("已提交社区报到，请等待社区确认。"))
            return redirect("members:me_residence")
    history = list(selectors.residence_history(member))
    current = next((r for r in history if r.status in ResidenceRegistration.ACTIVE_STATUSES), None)
    return render(
        request, "members/residence.html", {"form": form, "member": member, "current": current, "history": history}
    )


@login_required
@require_http_methods(["GET", "POST"])
def me_data(request):
    """我的个人信息: what the platform holds and why (the privacy notice), the download, the deletion request."""
    member = _own_member(request)
    form = DeletionRequestForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            services.deletion_request_create(member=member, reason=form.cleaned_data["reason"])
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("已提交删除申请，所在支部审批后会处理。"))
            return redirect("members:me_data")
    context = {
        "member": member,
        "form": form,
        "pending": selectors.pending_deletion_request(member),
        "decided": selectors.last_decided_deletion_request(member),
    }
    return render(request, "members/me_data.html", context)


@login_required
@require_GET
@member_page(params={"from": strict(iso_date), "to": strict(iso_date), "page": page_number})  # bad dates: the form says
def me_records(request):
    """The member's records and counted hours; `?from=…&to=…` narrows both to a period (a star rating links here
    with the end of its period, and the figure shown is the one the rating rated)."""
    member = _own_member(request)
    period = RecordPeriodForm(request.GET if ("from" in request.GET or "to" in request.GET) else None)
    start = end = None
    if period.is_bound and period.is_valid():
        start, end = period.cleaned_data["start"], period.cleaned_data["end"]
    records = selectors.records_for_member(member)
    if start is not None:
        records = records.filter(date__gte=start)
    if end is not None:
        records = records.filter(date__lte=end)
    page = Paginator(records, RECORDS_PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "member": member,
        "page": page,
        "period": period,
        "period_start": start,
        "period_end": end,
        "period_hours": selectors.counted_hours(member, start=start, end=end) if (start or end) else None,
        "hours_by_source": selectors.hours_by_source(member, start=start, end=end),
        "yearly_totals": list(selectors.yearly_totals(member)),
        "total_hours": selectors.counted_hours(member),
    }
    return render(request, "members/records.html", context)


@login_required
@require_http_methods(["GET", "POST"])
def me_record_correction(request, pk: int):
    """申请更正: the member asks the recording organization to correct one of their confirmed records; the secretary
    answers in the admin's queue and the member is told the outcome (services.service_record_correction_review)."""
    member = _own_member(request)
    record = selectors.records_for_member(member).filter(pk=pk).first()
    if record is None:
        raise Http404(_("找不到该服务记录。"))
    pending = selectors.pending_correction(record)
    form = OwnCorrectionForm(request.POST if request.method == "POST" else None, record=record)
    if request.method == "POST" and pending is None and form.is_valid():
        try:
            services.service_record_correction_request(
                record=record, requested_by=request.user, **form.correction_data()
            )
        except ValidationError as exc:
            _add_errors(form, exc)
        else:
            messages.success(request, _("更正申请已提交，记录组织审核后会通知您。"))
            return redirect(f"{reverse('members:me_records')}#record-{record.pk}")
    context = {"member": member, "record": record, "form": form, "pending": pending}
    return render(request, "members/record_correction.html", context)


# --- Secretaries ------------------------------------------------------------------------------------------------


@login_required
@require_GET
def residence_queue(request):
    if not _is_secretary(request.user):
        raise Http404(_("找不到该页面。"))
    registrations = list(selectors.residence_confirmation_queue(request.user))
    return render(request, "members/residence_queue.html", {"registrations": registrations})


@login_required
@require_POST
def residence_confirm(request, pk: int):
    registration = selectors.residence_confirmation_queue(request.user).filter(pk=pk).first()
    if registration is None:
        raise Http404(_("找不到该报到记录。"))
    try:
        services.residence_confirm(registration=registration, actor=request.user)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(
            request,
            _("已确认 %(name)s 在%(community)s的报到。")
            % {"name": registration.member.name, "community": registration.community.name},
        )
    return redirect("members:residence_queue")


# --- Invitation -------------------------------------------------------------------------------------------------


def _invitation_invalid(request):
    return render(request, "members/invite_invalid.html")


@never_cache
@sensitive_post_parameters("new_password1", "new_password2")
@require_http_methods(["GET", "POST"])
def invite_accept(request, uidb64: str, token: str):
    if token != INVITATION_URL_TOKEN:
        if selectors.member_for_invitation(uidb64, token) is None:
            return _invitation_invalid(request)
        request.session[INVITATION_SESSION_KEY] = token
        return redirect("members:invite_accept", uidb64=uidb64, token=INVITATION_URL_TOKEN)

    token = request.session.get(INVITATION_SESSION_KEY, "")
    member = selectors.member_for_invitation(uidb64, token)
    if member is None:
        return _invitation_invalid(request)
    data = request.POST if request.method == "POST" else None
    password_form = SetPasswordForm(member.user, data)
    profile_form = ProfileForm(data, member=member)
    if data is not None and password_form.is_valid() and profile_form.is_valid():
        try:
            member = services.member_invitation_accept(
                member=member,
                token=token,
                password=password_form.cleaned_data["new_password1"],
                **profile_form.profile_data(),
            )
        except ValidationError as exc:
            if getattr(exc, "code", None) == "invalid_invitation":
                return _invitation_invalid(request)
            _add_errors(profile_form, exc)
        else:
            request.session.pop(INVITATION_SESSION_KEY, None)
            # The backend that knows users (the first one, django-axes', only watches sign-in attempts).
            login(request, member.user, backend="members.backends.PhoneOrUsernameBackend")
            messages.success(request, _("欢迎加入党员志愿服务平台！您的密码和个人信息已保存。"))
            return redirect("members:me")
    context = {
        "member": member,
        "password_form": password_form,
        "form": profile_form,
        "valid_days": invitation_token_generator.timeout // 86400,
        "action": reverse("members:invite_accept", kwargs={"uidb64": uidb64, "token": INVITATION_URL_TOKEN}),
    }
    return render(request, "members/invite_accept.html", context)
