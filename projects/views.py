"""Project pages: browse, brand pages with their QR code, activities with sign-up / cancel / check-in, the organizer's
attendance sheet, "my activities", self-reports and the private calendar feed.

Thin: reads come from `selectors`, writes from `services`. Published projects and their activities are public;
drafts, the check-in code and the attendance sheet are for the organizers in scope — everyone else gets 404.
"""

import math
import re
from datetime import datetime, timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from icalendar import Calendar, Event

from core import page_params, public_cache, ratelimit
from core.forms import add_service_errors
from core.params import parse_id
from core.qr import qr_svg
from core.redirects import redirect_next
from members import decorators as members_decorators
from members.models import Team
from members.selectors import member_for
from training import selectors as training_selectors

from . import selectors, services
from .forms import (
    CheckInForm,
    CheckinPlaceForm,
    PostSkipForm,
    ProjectFilterForm,
    SelfReportForm,
    attendance_marks,
)
from .models import Activity, ActivitySurvey, CalendarFeed, Post, PostClaim, ServiceMode, SignUp, TargetGroup
from .validators import check_cancellable

PROJECTS_PAGE_SIZE = 20


# Signed in and linked to a member record (request.member); other accounts get a 404 page that says why.
member_required = members_decorators.member_required("projects/no_member.html")


def _back(request, default: str):
    return redirect_next(request, default)


def _qr_svg(data: str) -> HttpResponse:
    return HttpResponse(qr_svg(data), content_type="image/svg+xml")


def _errors(request, exc: ValidationError) -> None:
    messages.error(request, " ".join(exc.messages))


# --- Browse and brand pages -------------------------------------------------------------------------------------


# The list's seat figures are not dropped by every sign-up in the district (only its activity's and project's pages
# are: projects/receivers.py): they follow within LIST_TIMEOUT, as the page says under the cards.
LIST_TIMEOUT = 60


@require_GET
@public_cache.public_page(
    "projects",
    timeout=LIST_TIMEOUT,
    params={  # ProjectFilterForm's fields and the page
        "category": page_params.an_id,
        "mode": page_params.choice(ServiceMode.values),
        "target_group": page_params.choice(TargetGroup.values),
        "community": page_params.an_id,
        "date_from": page_params.iso_date,
        "date_to": page_params.iso_date,
        "matches": page_params.flag,
        "seats": page_params.flag,
        "page": page_params.page_number,
    },
)
def project_list(request):
    member = member_for(request.user)
    form = ProjectFilterForm(request.GET or None)
    filters = form.filters() if form.is_bound else selectors.ProjectFilters()
    tag_ids = selectors.member_tag_ids(member)
    if filters.matches and member is None:
        messages.info(request, _("登录后可以按您的特长和兴趣筛选项目。"))
    now = timezone.now()
    projects = selectors.browse_projects(filters, tag_ids=tag_ids, now=now)
    page = Paginator(projects, PROJECTS_PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(selectors.project_cards(page.object_list, tag_ids=tag_ids, now=now))
    for project in page.object_list:
        project.next_activity = selectors.next_activity(project)
    context = {"form": form, "page": page, "member": member, "now": now}
    response = render(request, "projects/project_list.html", context)
    # The cards show each project's next activity and its phase (the ?seats filter's other projects: the timeout).
    shown = [p.next_activity for p in page.object_list if p.next_activity is not None]
    public_cache.stale_at(response, _first_change(shown, now))
    return response


def _first_change(activities, now):
    """The first moment after `now` at which one of `activities` changes its phase by the clock alone."""
    return min(filter(None, (a.phase_changes_at(now) for a in activities)), default=None)


def _project_or_404(request, slug: str):
    project = selectors.project_for_page(request.user, slug)
    if project is None:
        raise Http404(_("找不到该服务项目。"))
    return project


@require_GET
@public_cache.public_page("projects", objects=lambda query, kwargs: [("project", kwargs["slug"])])
def project_detail(request, slug: str):
    project = _project_or_404(request, slug)
    member = member_for(request.user)
    posts = list(selectors.open_posts(project))
    my_claims = (
        set(
            PostClaim.objects.filter(member=member, post__in=posts, status="active")
            .order_by()
            .values_list("post_id", flat=True)
        )
        if member is not None and posts
        else set()
    )
    now = timezone.now()
    activities = list(selectors.upcoming_activities(project, now=now))
    context = {
        "project": project,
        "member": member,
        "now": now,
        "activities": activities,
        "figures": selectors.project_figures(project),
        "surveys": selectors.survey_summary_for_project(project),
        "posts": posts,
        "my_claims": my_claims,
        "skills": list(project.skills_wanted.order_by("name")),
        "page_url": request.build_absolute_uri(reverse("projects:project_detail", args=[project.slug])),
        "can_manage": selectors.visible_projects(request.user).filter(pk=project.pk).exists(),
    }
    response = render(request, "projects/project_detail.html", context)
    public_cache.stale_at(response, _first_change(activities, now))  # a phase changes, or one starts (and leaves)
    return response


@require_GET
def project_qr(request, slug: str):
    project = _project_or_404(request, slug)
    response = _qr_svg(request.build_absolute_uri(reverse("projects:project_detail", args=[project.slug])))
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_GET
def project_logo(request, slug: str):
    project = _project_or_404(request, slug)
    if not project.logo:
        raise Http404(_("该项目没有标识。"))
    try:
        handle = project.logo.open("rb")
    except FileNotFoundError:
        raise Http404(_("文件不存在。")) from None
    # Always the PNG services.project_save wrote: a fixed type, never sniffed.
    return FileResponse(handle, content_type="image/png")


# --- Activities -------------------------------------------------------------------------------------------------


def _cancellable(signup: SignUp, activity: Activity, now: datetime) -> bool:
    """The page offers 取消报名 / 退出候补 exactly when the service would accept it."""
    try:
        check_cancellable(signup=signup, activity=activity, now=now)
    except ValidationError:
        return False
    return True


def _activity_or_404(request, pk: int) -> Activity:
    activity = selectors.activity_for_page(request.user, pk)
    if activity is None:
        raise Http404(_("找不到该活动。"))
    return activity


@require_GET
@public_cache.public_page("projects", objects=lambda query, kwargs: [("activity", kwargs["pk"])])
def activity_detail(request, pk: int):
    activity = _activity_or_404(request, pk)
    member = member_for(request.user)
    signup = selectors.signup_of(member, activity)
    now = timezone.now()
    opens, closes = services.checkin_window(activity)
    is_organizer = selectors.visible_activities(request.user).filter(pk=activity.pk).exists()
    teams = list(Team.objects.filter(leader=member).order_by("name")) if member is not None else []
    context = {
        "activity": activity,
        "project": activity.project,
        "member": member,
        "now": now,
        "signup": signup,
        "active": signup is not None and signup.status in SignUp.ACTIVE_STATUSES,
        "rank": selectors.waitlist_rank(signup) if signup and signup.status == SignUp.Status.WAITLISTED else None,
        # The button follows the label (the phase_badge of the same activity at the same `now`).
        "signup_open": activity.phase(now).accepts_signups,
        "can_cancel": signup is not None and _cancellable(signup, activity, now),
        "late": now >= activity.cancel_cutoff_at,
        "checkin_open": opens <= now <= closes,
        "checkin_opens": opens,
        "checkin_form": CheckInForm(),
        "teams": teams,
        "is_organizer": is_organizer,
        "signout_due": activity.signout_required
        and signup is not None
        and signup.status == SignUp.Status.CONFIRMED
        and signup.checked_in_at is not None
        and signup.checked_out_at is None,
    }
    response = render(request, "projects/activity_detail.html", context)
    public_cache.stale_at(response, activity.phase_changes_at(now))
    return response


def _activity_for_member(request, pk: int, *, page: bool = True) -> Activity:
    """The activity a member acts on: with the page's counts and joins when a page shows it (`page`), else only
    with its project (a sign-up or cancellation, which the service re-reads under its lock)."""
    lookup = selectors.activity_for_page if page else selectors.activity_for_action
    activity = lookup(request.user, pk)
    if activity is None or activity.project.status == "draft":
        raise Http404(_("找不到该活动。"))
    return activity


@require_POST
@member_required
def activity_signup(request, pk: int):
    activity = _activity_for_member(request, pk, page=False)
    default = reverse("projects:activity_detail", args=[activity.pk])
    team_id = request.POST.get("team", "")
    try:
        if team_id:
            team = get_object_or_404(Team, pk=parse_id(team_id) or 0, leader=request.member)
            signups = services.team_signup_create(activity=activity, team=team, leader=request.member)
            messages.success(request, _("已为%(team)s的 %(n)d 名队员报名。") % {"team": team.name, "n": len(signups)})
        else:
            signup = services.signup_create(activity=activity, member=request.member)
            if signup.status == SignUp.Status.CONFIRMED:
                messages.success(request, _("报名成功：%(activity)s。") % {"activity": activity.display_title})
            else:
                messages.info(request, _("名额已满，您已进入候补名单。有人取消时会按顺序递补并通知您。"))
    except ValidationError as exc:
        _errors(request, exc)
    return _back(request, default)


@require_POST
@member_required
def activity_cancel_signup(request, pk: int):
    activity = _activity_for_member(request, pk, page=False)
    signup = get_object_or_404(
        SignUp,
        activity=activity,
        member=request.member,
        status__in=(SignUp.Status.CONFIRMED, SignUp.Status.WAITLISTED),
    )
    was_waitlisted = signup.status == SignUp.Status.WAITLISTED
    try:
        signup = services.signup_cancel(signup=signup)
    except ValidationError as exc:
        _errors(request, exc)
    else:
        if was_waitlisted:
            messages.success(request, _("已退出候补。"))
        elif signup.status == SignUp.Status.LATE_CANCELLED:
            messages.warning(request, _("已取消报名。已过取消截止时间，记为逾期取消。"))
        else:
            messages.success(request, _("已取消报名。"))
    return _back(request, reverse("projects:activity_detail", args=[activity.pk]))


def _checkin_page(request, activity: Activity, form: CheckInForm, *, status: int = 200):
    """The member's check-in page, or the sign-out page once they checked in to an activity that asks for it."""
    signup = selectors.signup_of(request.member, activity)
    signing_out = (
        activity.signout_required
        and signup is not None
        and signup.status == SignUp.Status.CONFIRMED
        and signup.checked_in_at is not None
        and signup.checked_out_at is None
    )
    context = {"activity": activity, "form": form, "signup": signup, "signing_out": signing_out}
    return render(request, "projects/checkin.html", context, status=status)


def _checkin_attempt(request, activity: Activity, form: CheckInForm):
    """The one check-in limit, for check-in and sign-out alike: every attempt counts, right or wrong, so a 6-digit
    code is not guessable while check-in is open. The refusal page, or None."""
    verdict = ratelimit.hit("CHECKIN_ATTEMPT_LIMIT", f"{request.member.pk}:{activity.pk}")
    if verdict.allowed:
        return None
    minutes = max(1, math.ceil(verdict.retry_after / 60))
    form.add_error(
        None,
        _("尝试次数太多，请%(minutes)d分钟后再试，或请组织者在签到表上登记。") % {"minutes": minutes},
    )
    return _checkin_page(request, activity, form, status=429)


@require_http_methods(["GET", "POST"])
@member_required
def activity_checkin(request, pk: int):
    """GET: the check-in form, with the token of the scanned QR code (?t=…) or a field for the typed code;
    POST: check in."""
    activity = _activity_for_member(request, pk)
    if request.method == "POST":
        form = CheckInForm(request.POST)
        refused = _checkin_attempt(request, activity, form)
        if refused is not None:
            return refused
        if form.is_valid():
            try:
                signup = services.signup_check_in(
                    activity=activity,
                    member=request.member,
                    code=form.cleaned_data["code"],
                    token=form.cleaned_data["token"],
                    position=form.position(),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("签到成功，感谢您的服务！"))
                if signup.checkin_position == SignUp.Position.UNKNOWN:
                    messages.info(request, _("没有取得您的位置，本次签到标记为“未提供位置”，由组织者核实。"))
                if activity.signout_required:
                    messages.info(request, _("本活动需要签退：离开时请再次扫描组织者的签到二维码。"))
                return redirect("projects:activity_detail", pk=activity.pk)
    else:
        form = CheckInForm(initial={"token": request.GET.get("t", "")[:40]})
    return _checkin_page(request, activity, form)


@require_POST
@member_required
def activity_checkout(request, pk: int):
    """Sign out (签退), proved as a check-in is; counted against the same attempt limit."""
    activity = _activity_for_member(request, pk)
    form = CheckInForm(request.POST)
    refused = _checkin_attempt(request, activity, form)
    if refused is not None:
        return refused
    if form.is_valid():
        try:
            services.signup_check_out(
                activity=activity,
                member=request.member,
                code=form.cleaned_data["code"],
                token=form.cleaned_data["token"],
                position=form.position(),
            )
        except ValidationError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("签退成功，服务时长按签到至签退的时间计算。"))
            return redirect("projects:activity_detail", pk=activity.pk)
    return _checkin_page(request, activity, form)


def _organized_activity(request, pk: int) -> Activity:
    activity = (
        selectors.with_counts(selectors.visible_activities(request.user))
        .select_related("project__organization")
        .filter(pk=pk)
        .first()
    )
    if activity is None:
        raise Http404(_("找不到该活动。"))
    return activity


@login_required
@require_GET
def activity_checkin_qr(request, pk: int):
    """The QR code of the check-in link with the token of this moment (it changes every CHECKIN_STEP_SECONDS)."""
    activity = _organized_activity(request, pk)
    token = services.checkin_token(activity, timezone.now())
    url = reverse("projects:activity_checkin", args=[activity.pk]) + f"?t={token}"
    response = _qr_svg(request.build_absolute_uri(url))
    response["Cache-Control"] = "private, no-store"
    return response


@login_required
@require_GET
def activity_checkin_screen(request, pk: int):
    """The organizer's phone at the door: the QR code, refreshed every 30 s (static/js/checkin-screen.js), the
    6-digit code behind a button, a new code, and how many have checked in."""
    activity = _organized_activity(request, pk)
    now = timezone.now()
    opens, closes = services.checkin_window(activity)
    context = {
        "activity": activity,
        "counts": selectors.checkin_counts(activity),
        "step_seconds": services.CHECKIN_STEP_SECONDS,
        "next_in": math.ceil(services.seconds_to_next_step(now)),
        "checkin_open": opens <= now <= closes,
        "checkin_opens": opens,
    }
    response = render(request, "projects/checkin_screen.html", context)
    response["Cache-Control"] = "private, no-store"
    return response


@require_POST
@login_required
def activity_checkin_place(request, pk: int):
    """The organizer sets the check-in place where they stand (their phone's position and a radius), or clears it."""
    activity = _organized_activity(request, pk)
    form = CheckinPlaceForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.activity_checkin_place_set(
                activity=activity,
                latitude=None if data["latitude"] is None else round(data["latitude"], 6),
                longitude=None if data["longitude"] is None else round(data["longitude"], 6),
                checkin_radius_m=data["checkin_radius_m"],
            )
        except ValidationError as exc:
            _errors(request, exc)
        else:
            if data["clear"]:
                messages.success(request, _("已取消签到范围，党员在任何位置都可以签到。"))
            else:
                messages.success(
                    request,
                    _("已把您现在的位置设为签到点：%(radius)d 米以外的手机不能签到。")
                    % {"radius": data["checkin_radius_m"]},
                )
    else:
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
    return redirect("projects:activity_checkin_screen", pk=activity.pk)


@require_POST
@login_required
def activity_new_code(request, pk: int):
    """The organizer gives the activity a new check-in code: the old code and every QR code shown stop working."""
    activity = _organized_activity(request, pk)
    services.activity_new_code(activity=activity)
    messages.success(request, _("已更换签到码，原签到码和之前的二维码不能再用于签到。"))
    return redirect("projects:activity_checkin_screen", pk=activity.pk)


@login_required
@require_http_methods(["GET", "POST"])
def attendance(request, pk: int):
    activity = _organized_activity(request, pk)
    rows = list(selectors.attendance_rows(activity))
    started = timezone.now() >= activity.starts_at
    errors = []
    if request.method == "POST":
        marks = attendance_marks(request.POST, rows)
        try:
            result = services.attendance_submit(activity=activity, marks=marks, actor=request.user)
        except ValidationError as exc:
            errors.extend(exc.messages)
        else:
            messages.success(
                request,
                _("考勤已保存：已到 %(attended)d 人，缺席 %(absent)d 人；服务时长已确认，积分已发放。")
                % {"attended": len(result.attended), "absent": len(result.no_show)},
            )
            if result.unverified:
                messages.warning(
                    request,
                    _("您本人的服务时长需由其他管理员确认：%(names)s。")
                    % {"names": "、".join(s.member.name for s in result.unverified)},
                )
            return redirect("projects:attendance", pk=activity.pk)
        messages.error(request, _("考勤没有保存，请检查下面的提示。"))
    for signup in rows:
        signup.default_hours = services.default_hours(signup, activity)
        signup.posted_mark = request.POST.get(f"mark-{signup.pk}") if request.method == "POST" else None
        signup.posted_hours = request.POST.get(f"hours-{signup.pk}", "") if request.method == "POST" else ""
    context = {"activity": activity, "rows": rows, "started": started, "errors": errors}
    return render(request, "projects/attendance.html", context)


# --- Posts ------------------------------------------------------------------------------------------------------


def _post_for_member(request, pk: int) -> Post:
    post = get_object_or_404(Post.objects.select_related("project"), pk=pk)
    if post.project.status == "draft":
        raise Http404(_("找不到该岗位。"))
    return post


@require_POST
@member_required
def post_claim(request, pk: int):
    post = _post_for_member(request, pk)
    try:
        result = services.post_claim(post=post, member=request.member)
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(
            request,
            _("已认领岗位“%(post)s”，并为您报名了 %(n)d 场活动。")
            % {"post": post.title, "n": len([s for s in result.signed_up if s.status == SignUp.Status.CONFIRMED])},
        )
        for activity, reason in result.missed:
            messages.warning(
                request,
                _("%(when)s：%(reason)s")
                % {"when": timezone.localtime(activity.starts_at).strftime("%m-%d %H:%M"), "reason": reason},
            )
    return _back(request, reverse("projects:project_detail", args=[post.project.slug]))


def _my_claim(request, pk: int) -> PostClaim:
    return get_object_or_404(PostClaim, post_id=pk, member=request.member, status=PostClaim.Status.ACTIVE)


@require_POST
@member_required
def post_skip(request, pk: int):
    claim = _my_claim(request, pk)
    form = PostSkipForm(request.POST)
    if not form.is_valid():
        messages.error(request, "；".join(str(m) for errors in form.errors.values() for m in errors))
        return _back(request, reverse("projects:my_activities"))
    day = form.cleaned_data["day"]
    try:
        services.post_skip(claim=claim, day=day)
    except ValidationError as exc:
        _errors(request, exc)
    else:
        messages.success(request, _("已请假：%(day)s。") % {"day": day.strftime("%Y-%m-%d")})
    return _back(request, reverse("projects:my_activities"))


@require_POST
@member_required
def post_leave(request, pk: int):
    claim = _my_claim(request, pk)
    services.post_leave(claim=claim)
    messages.success(request, _("已退出该岗位，之后的活动报名已取消。"))
    return _back(request, reverse("projects:my_activities"))


# --- Member pages -----------------------------------------------------------------------------------------------


@require_GET
@member_required
def my_activities(request):
    member = request.member
    upcoming = selectors.my_upcoming(member)
    claims = list(selectors.my_claims(member))
    today = timezone.localdate()
    for claim in claims:
        skipped = {s.date for s in claim.skips.all()}
        claim.next_dates = [
            d
            for d in (today + timedelta(days=i) for i in range(28))
            if d.weekday() == claim.post.weekday and d not in skipped
        ]
        claim.skipped = sorted(d for d in skipped if d >= today)
    context = {
        "member": member,
        "confirmed": [s for s in upcoming if s.status == SignUp.Status.CONFIRMED],
        "waitlisted": [s for s in upcoming if s.status == SignUp.Status.WAITLISTED],
        "past": list(selectors.my_past(member)),
        "claims": claims,
        "reports": list(selectors.my_self_reports(member)),
        "now": timezone.now(),
    }
    return render(request, "projects/my_activities.html", context)


@require_http_methods(["GET", "POST"])
@member_required
def self_report(request):
    form = SelfReportForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.self_report_submit(
                    member=request.member,
                    project=data.get("project"),
                    started_at=data["started_at"],
                    ended_at=data["ended_at"],
                    hours=data["hours"],
                    place=data["place"],
                    content=data["content"],
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, _("已提交申报，审核通过后计入服务时长。"))
                return redirect("projects:my_activities")
        messages.error(request, _("申报没有提交，请检查下面的提示。"))
    return render(request, "projects/self_report.html", {"form": form})


@require_http_methods(["GET", "POST"])
@member_required
def my_calendar(request):
    """The signed-in member's private feed URL (GET), or a new one that revokes the old (POST)."""
    renew = request.method == "POST"
    feed = services.calendar_feed_for(member=request.member, renew=renew)
    if renew:
        messages.success(request, _("已生成新的订阅地址，旧地址已失效。"))
        return redirect("projects:my_calendar")
    url = request.build_absolute_uri(reverse("projects:calendar_feed", args=[feed.token]))
    return render(
        request, "projects/calendar.html", {"feed_url": url, "webcal_url": "webcal://" + url.split("://", 1)[1]}
    )


CALENDAR_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,64}")


@require_GET
def calendar_feed(request, token: str):
    """The iCalendar feed of a member's confirmed activities and enrolled training sessions; the token is the only
    key, so a wrong one is 404."""
    # Tokens are secrets.token_urlsafe(32); anything else (a NUL byte PostgreSQL refuses, say) is simply unknown.
    if not CALENDAR_TOKEN.fullmatch(token):
        raise Http404
    feed = CalendarFeed.objects.select_related("member").filter(token=token).first()
    if feed is None:
        raise Http404
    calendar = Calendar()
    calendar.add("prodid", "-//volunteer-platform//projects//ZH")
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", _("我的志愿服务活动和培训"))
    host = request.get_host().split(":")[0]
    for signup in selectors.calendar_signups(feed.member):
        activity = signup.activity
        event = Event()
        event.add("uid", f"activity-{activity.pk}-signup-{signup.pk}@{host}")
        event.add("summary", activity.display_title)
        event.add("dtstart", activity.starts_at)
        event.add("dtend", activity.ends_at)
        event.add("dtstamp", signup.created_at)
        event.add("location", activity.place)
        event.add("description", f"{activity.project.organization.name}")
        event.add("url", request.build_absolute_uri(reverse("projects:activity_detail", args=[activity.pk])))
        calendar.add_component(event)
    for enrollment in training_selectors.calendar_enrollments(feed.member):
        session = enrollment.session
        event = Event()
        event.add("uid", f"training-{session.pk}-enrollment-{enrollment.pk}@{host}")
        event.add("summary", _("培训：%(title)s") % {"title": session.course.title})
        event.add("dtstart", session.starts_at)
        event.add("dtend", session.ends_at)
        event.add("dtstamp", enrollment.created_at)
        event.add("location", session.place or session.online_url)
        event.add("description", "\n".join(filter(None, [session.organizer.name, session.online_url])))
        event.add("url", request.build_absolute_uri(reverse("training:session_detail", args=[session.pk])))
        calendar.add_component(event)
    response = HttpResponse(calendar.to_ical(), content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="activities.ics"'
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_http_methods(["GET", "POST"])
@member_required
def activity_survey(request, pk: int):
    """The short survey after an activity (1–5 satisfaction, optional comment): for its attendees, once each."""
    activity = _activity_or_404(request, pk)
    signup = SignUp.objects.filter(activity=activity, member=request.member, status=SignUp.Status.ATTENDED).first()
    if signup is None:
        raise Http404(_("只有参加了这次活动的党员才能填写问卷。"))
    answer = ActivitySurvey.objects.filter(signup=signup).first()
    rating, comment, status = "", "", 200
    if request.method == "POST":
        rating, comment = request.POST.get("rating", ""), request.POST.get("comment", "")
        try:
            services.survey_submit(activity=activity, member=request.member, rating=rating, comment=comment)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            status = 400
        else:
            messages.success(request, _("感谢您的反馈！"))
            return redirect("projects:activity_detail", pk=activity.pk)
    context = {
        "activity": activity,
        "answer": answer,
        "ratings": range(ActivitySurvey.RATING_MIN, ActivitySurvey.RATING_MAX + 1),
        "rating": str(rating),
        "comment": comment,
        "ended": activity.ends_at <= timezone.now(),
    }
    return render(request, "projects/survey.html", context, status=status)
