"""The secretaries' dashboard (工作台), plans and exports. Thin: the figures come from `selectors`, writes from
`services`; an organization or plan outside the user's scope answers 404."""

from dataclasses import dataclass
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.utils.safestring import mark_safe
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from audit.models import AuditEvent
from audit.services import audit_record
from core import public_cache
from core.db import replica_reads
from core.exports import attachment
from core.member_cache import member_page
from core.page_params import an_id, integer, iso_date, page_number, strict

from . import exports, selectors, services
from .charts import trend_chart
from .forms import ReportRequestForm
from .models import Report, Task

MAX_PERIOD_DAYS = 366 * 5
FOLLOWUP_PAGE_SIZE = selectors.FOLLOWUP_PAGE_SIZE
# Far past any list (a million members' worth); a bigger number reads this page, empty. Unbounded, its OFFSET passed
# PostgreSQL's bigint and answered 500 (`?page=` with twenty digits, found by tests/security/test_fuzz.py).
MAX_FOLLOWUP_PAGE = 40_000


def _page_number(page) -> int:
    try:
        return min(max(int(page), 1), MAX_FOLLOWUP_PAGE)
    except (TypeError, ValueError):
        return 1


@dataclass
class _Page:
    """A page of a long list without its total: one query fetching one row more than a page says whether a next
    page exists (counting 100,000 members' anti-join would cost more than the page itself)."""

    object_list: list
    number: int
    has_next: bool

    @classmethod
    def of(cls, queryset, page, first_rows: list | None = None) -> "_Page":
        """The page asked for; `first_rows` (a snapshot's first page and one row more) serves page 1 without a
        query."""
        number = _page_number(page)
        if number == 1 and first_rows is not None:
            rows = first_rows
        else:
            start = (number - 1) * FOLLOWUP_PAGE_SIZE
            rows = list(queryset[start : start + FOLLOWUP_PAGE_SIZE + 1])
        return cls(rows[:FOLLOWUP_PAGE_SIZE], number, len(rows) > FOLLOWUP_PAGE_SIZE)

    def __iter__(self):
        return iter(self.object_list)

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_other_pages(self) -> bool:
        return self.has_next or self.has_previous

    @property
    def previous_page_number(self) -> int:
        return self.number - 1

    @property
    def next_page_number(self) -> int:
        return self.number + 1


def _period(request) -> tuple[selectors.Period, str | None]:
    """The period from `?from=&to=` (ISO dates), or `?year=` (+ `&month=`); default: this year up to today."""
    today = timezone.localdate()
    default = selectors.Period(date(today.year, 1, 1), today)
    get = request.GET
    try:
        if get.get("from") or get.get("to"):
            period = selectors.Period(date.fromisoformat(get.get("from", "")), date.fromisoformat(get.get("to", "")))
        elif get.get("year"):
            year = int(get["year"])
            period = (
                selectors.Period.month(year, int(get["month"])) if get.get("month") else selectors.Period.year(year)
            )
        else:
            return default, None
    except (TypeError, ValueError, OverflowError):  # int() reads full-width digits too: a huge year overflows date()
        return default, _("日期格式不正确，已显示今年的数据。")
    if period.end < period.start or period.days > MAX_PERIOD_DAYS or period.start.year < 2000:
        return default, _("统计期间不正确（开始不能晚于结束，最长五年），已显示今年的数据。")
    return period, None


def _organization(request):
    """The organization asked for (`?org=`), else the user's top one; 404 for anyone without a scope."""
    user = request.user
    if "org" in request.GET:
        organization = selectors.dashboard_organization(user, request.GET["org"])
    else:
        organization = selectors.dashboard_root(user)
    if organization is None:
        raise Http404(_("找不到该党组织。"))
    return organization


def _query(organization, period: selectors.Period) -> QueryDict:
    """The page's canonical query: the template renders without the request, so its links start from this."""
    query = QueryDict(mutable=True)
    query.update({"org": organization.pk, "from": period.start.isoformat(), "to": period.end.isoformat()})
    return query


def _content(organization, period: selectors.Period, figures: selectors.Dashboard, followup: _Page) -> str:
    """dashboard_content.html: the page inside the base layout. Rendered without the request, so it holds nothing of
    the viewer (no CSRF token, user or messages) and a snapshot's rendering can be served to every viewer."""
    today = timezone.localdate()
    presets = [
        (_("今年"), urlencode({"org": organization.pk, "year": today.year})),
        (_("本月"), urlencode({"org": organization.pk, "year": today.year, "month": today.month})),
        (_("去年"), urlencode({"org": organization.pk, "year": today.year - 1})),
    ]
    return render_to_string(
        "volunteer_platform/dashboard_content.html",
        {
            "d": figures,
            "organization": organization,
            "period": period,
            "query": _query(organization, period),
            "presets": presets,
            "chart": trend_chart(figures.trend),
            "to_claim_hours": exports.hours_of(figures.wishes.median_to_claim),
            "to_fulfil_hours": exports.hours_of(figures.wishes.median_to_fulfil),
            "followup": followup,
            "exports": [(kind, label) for kind, label in exports.KINDS.items()],
        },
    )


# Why two caches: rendering, not queries, is most of what a snapshot hit costs. So the content is rendered once per
# snapshot and language and kept beside it (selectors.snapshot_rendering), served only while its snapshot is current
# and only for what the snapshot serves (the default period, the follow-up list's first page). And a page served from
# a snapshot is kept whole per person (core/member_cache.py), tied besides to the version every new snapshot gets
# (selectors.SNAPSHOTS_VERSION_KEY). A page computed live (another period, a later page) is never kept.
def _from_snapshot(response) -> bool:
    return getattr(response, "from_snapshot", False)


@login_required
@require_GET
@member_page(
    versions=(selectors.SNAPSHOTS_VERSION_KEY, selectors.WORK_WAITING_VERSION_KEY),
    storable=_from_snapshot,
    # _organization and _period; what they refuse (a 404, a message) is answered, not stored
    params={
        "org": strict(an_id),
        "from": strict(iso_date),
        "to": strict(iso_date),
        "year": strict(integer),
        "month": strict(integer),
        "page": page_number,
    },
)
@replica_reads()  # the figures may be seconds old; not for a person who just wrote (core/db.py)
def dashboard(request):
    organization = _organization(request)
    period, problem = _period(request)
    if problem:
        messages.warning(request, problem)
    default = period == selectors.default_period()
    first_page = _page_number(request.GET.get("page")) == 1
    language = get_language()
    figures = None
    if default and first_page:
        stamp, content = selectors.snapshot_rendering(organization, period, language)
        if content is not None:
            return _dashboard_page(request, organization, content, from_snapshot=True)
        if stamp is not None:  # a snapshot, not yet rendered in this language
            figures = selectors.dashboard_snapshot(organization, period)
    elif default:  # a later page of the follow-up list: the snapshot's figures, the page queried now
        figures = selectors.dashboard_snapshot(organization, period)
    snapshot = figures is not None
    if figures is None:
        figures = selectors.dashboard(organization, period)
    followup = _Page.of(
        selectors.members_without_service(organization, period.end.year, summary=figures.summary),
        request.GET.get("page"),
        first_rows=figures.followup_head,
    )
    content = _content(organization, period, figures, followup)
    if snapshot and first_page:
        selectors.keep_snapshot_rendering(organization, figures, language, content)
    return _dashboard_page(request, organization, content, from_snapshot=snapshot and first_page)


# Where the viewer's 需要您处理 goes in the content (below its title): the content is the same for every viewer.
WORK_WAITING_SLOT = "<!-- work-waiting -->"


def _dashboard_page(request, organization, content: str, *, from_snapshot: bool) -> HttpResponse:
    """The base layout (navigation, messages, the viewer's CSRF token) around the dashboard's content, with the
    viewer's 需要您处理 (selectors.work_waiting) in its slot; marked when the content is a snapshot's first page,
    which the per-person page cache may keep — until something in a queue is written (the version the receivers
    drop) or an activity's end makes its attendance due."""
    waiting, changes_at = selectors.work_waiting(request.user)
    head, _slot, rest = content.partition(WORK_WAITING_SLOT)
    response = render(
        request,
        "volunteer_platform/dashboard.html",
        {
            "organization": organization,
            "content_head": mark_safe(head),
            "content": mark_safe(rest),
            "waiting": waiting,
        },
    )
    response.from_snapshot = from_snapshot  # type: ignore[attr-defined]  # a mark the member page cache reads
    public_cache.stale_at(response, changes_at)
    return response


@login_required
@require_GET
@replica_reads()
def export(request, kind: str):
    if kind not in exports.KINDS:
        raise Http404(_("没有这种导出。"))
    organization = _organization(request)
    period, _problem = _period(request)
    content = exports.build(kind, organization, period)
    audit_record(
        action=AuditEvent.Action.EXPORT,
        request=request,
        obj=organization,
        detail={"kind": kind, "start": period.start.isoformat(), "end": period.end.isoformat()},
    )
    # 主要指标-东一支部-2025-01-01至2025-12-31.xlsx: what it is, whose, which period.
    filename = _("%(kind)s-%(organization)s-%(start)s至%(end)s.xlsx") % {
        "kind": exports.KINDS[kind],
        "organization": organization.name,
        "start": period.start.isoformat(),
        "end": period.end.isoformat(),
    }
    response = HttpResponse(content, content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response["Content-Disposition"] = attachment(
        filename, ascii_fallback=f"{kind}-{organization.pk}-{period.start:%Y%m%d}-{period.end:%Y%m%d}.xlsx"
    )
    return response


@login_required
@require_GET
def plans(request):
    organization = _organization(request)
    return render(
        request,
        "volunteer_platform/plans.html",
        {"organization": organization, "plans": selectors.plans_for(organization)},
    )


@login_required
@require_GET
def plan_detail(request, pk: int):
    plan = selectors.plan_detail(request.user, pk)
    if plan is None:
        raise Http404(_("找不到该年度规划。"))
    today = timezone.localdate()
    return render(
        request,
        "volunteer_platform/plan_detail.html",
        {
            "plan": plan,
            "progress": selectors.plan_progress(plan, today),
            "tasks": selectors.plan_tasks(plan),
            "today": today,
            "statuses": Task.Status.choices,
        },
    )


@login_required
@require_http_methods(["GET", "POST"])
def task_detail(request, pk: int):
    """A task's page (任务分工): what it asks, its progress notes and the form to report progress — for its assignee
    (the member, or whoever administers the organization) and the plan's managers; 404 for anyone else. A report
    comes back to this page, which whoever could send it can open."""
    if request.method == "POST":
        task = selectors.workable_tasks(request.user).filter(pk=pk).first()
        if task is None:
            raise Http404(_("找不到该任务。"))
        _task_report(request, task)
        return redirect("dashboard:task", pk=task.pk)
    task = selectors.task_page(request.user, pk)
    if task is None:
        raise Http404(_("找不到该任务。"))
    if task.plan_visible:
        back = (reverse("dashboard:plan", args=[task.plan_id]), _("返回年度规划"))
    elif task.assignee_member is not None and task.assignee_member.user_id == request.user.pk:
        back = (reverse("members:me") + "#my-tasks", _("返回我的主页"))
    else:
        back = (reverse("dashboard:index"), _("返回工作台"))
    return render(
        request,
        "volunteer_platform/task_detail.html",
        {"task": task, "today": timezone.localdate(), "statuses": Task.Status.choices, "back": back},
    )


def _task_report(request, task: Task) -> None:
    """A progress note and/or a status change from the task's form; the outcome as a message."""
    status = request.POST.get("status", "")
    text = request.POST.get("text", "")
    try:
        if status and status != task.status:
            services.task_status_change(task=task, actor=request.user, status=status, note=text)
        else:
            services.task_note_add(task=task, author=request.user, text=text)
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        messages.success(request, _("已记录任务进展。"))


# --- Quarterly and annual reports (上报报告) ------------------------------------------------------------------------

REPORTS_LISTED = 50  # the newest reports of the subtree on the page
REPORT_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pdf": "application/pdf",
}


def _last_quarter(today: date) -> tuple[int, int]:
    quarter = (today.month - 1) // 3 + 1
    return (today.year, quarter - 1) if quarter > 1 else (today.year - 1, 4)


@login_required
@require_http_methods(["GET", "POST"])
def reports(request):
    """The organization's reports (?org=, like the dashboard): ask for a quarterly or annual report, which Celery
    builds (the requester is told in their inbox), and download the subtree's ready ones."""
    organization = _organization(request)
    here = f"{reverse('dashboard:reports')}?org={organization.pk}"
    if request.method == "POST":
        form = ReportRequestForm(request.POST)
        if form.is_valid():
            try:
                report, new = services.report_request(
                    organization=organization,
                    kind=form.cleaned_data["kind"],
                    year=form.cleaned_data["year"],
                    quarter=form.cleaned_data["quarter"],
                    requested_by=request.user,
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                if new:
                    messages.success(
                        request, _("已开始生成%(period)s报告，完成后会发消息通知您。") % {"period": report.period_label}
                    )
                else:
                    messages.info(
                        request, _("%(period)s报告正在生成中，完成后会发消息通知您。") % {"period": report.period_label}
                    )
                return redirect(here)
    else:
        year, quarter = _last_quarter(timezone.localdate())
        form = ReportRequestForm(initial={"kind": Report.Kind.QUARTERLY, "year": year, "quarter": quarter})
    return render(
        request,
        "volunteer_platform/reports.html",
        {
            "organization": organization,
            "form": form,
            "reports": list(selectors.reports_for(organization)[:REPORTS_LISTED]),
            "here": here,
        },
    )


@login_required
@require_GET
def report_download(request, pk: int, fmt: str):
    """A ready report's Word document or PDF, for whoever may open its organization's dashboard; 404 otherwise."""
    if fmt not in REPORT_TYPES:
        raise Http404(_("没有这种格式。"))
    report = (
        selectors.visible_reports(request.user)
        .filter(pk=pk, status=Report.Status.READY)
        .select_related("organization")
        .first()
    )
    if report is None:
        raise Http404(_("找不到该报告。"))
    stored = report.docx if fmt == "docx" else report.pdf
    try:
        handle = stored.open("rb")
    except FileNotFoundError:
        raise Http404(_("文件不存在。")) from None
    audit_record(
        action=AuditEvent.Action.EXPORT,
        request=request,
        obj=report.organization,
        detail={"kind": f"report-{report.kind}", "year": report.year, "quarter": report.quarter, "format": fmt},
    )
    # 幸福街道党工委-2025年第3季度-季度报告.docx
    filename = f"{report.organization.name}-{report.period_label}-{report.get_kind_display()}.{fmt}"
    response = FileResponse(handle, content_type=REPORT_TYPES[fmt])
    response["Content-Disposition"] = attachment(
        filename, ascii_fallback=f"report-{report.organization_id}-{report.year}q{report.quarter}.{fmt}"
    )
    return response
