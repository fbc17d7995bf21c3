"""Training pages: members browse, enroll and follow their progress; secretaries take attendance, record external
training and read the completion report. Views check who may see what (through `training.selectors`) and call a
service for every write. Out-of-scope objects answer 404; a page for secretaries answers 403 to everyone else."""

from io import BytesIO

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from openpyxl import Workbook
from openpyxl.styles import Font

from audit.models import AuditEvent
from audit.services import audit_record
from core.exports import attachment, xlsx_cells
from core.forms import add_service_errors
from core.params import parse_id
from core.redirects import redirect_next
from members.selectors import member_for

from . import selectors, services
from .files import content_type_for, extension
from .forms import AttendanceForm, CompletionFilterForm, ExternalTrainingForm
from .models import CourseMaterial, Enrollment, TrainingRecord, TrainingSession

MANAGE_PAGE_SIZE = 30


def _require_secretary(request) -> None:
    if not selectors.is_training_secretary(request.user):
        raise PermissionDenied


def _redirect_back(request, default: str):
    return redirect_next(request, default)


# --- Members --------------------------------------------------------------------------------------------------


@login_required
@require_GET
def index(request):
    member = member_for(request.user)
    context = {"member": member, "is_secretary": selectors.is_training_secretary(request.user)}
    if member is not None:
        year = timezone.localdate().year
        sessions = list(selectors.upcoming_sessions_for_member(member))
        context.update(
            progress=selectors.progress_for(member, year),
            sessions=sessions,
            my_sessions=[s for s in sessions if s.my_enrollment_status == Enrollment.Status.ENROLLED],
            records=list(selectors.records_for_member(member)),
            courses=list(selectors.courses_for_member(member)),
            today=timezone.localdate(),
            now=timezone.now(),
        )
    return render(request, "training/index.html", context)


def _session_for(request, session_id: int) -> tuple[TrainingSession, bool]:
    """A session the user may see, and whether it is open to them as a member (so they may enroll): open to their
    branch, or organised in their scope as a secretary. 404 otherwise."""
    member = member_for(request.user)
    if member is not None:
        session = selectors.sessions_open_to(member).filter(pk=session_id).first()
        if session is not None:
            return session, True
    session = selectors.sessions_for_secretary(request.user).filter(pk=session_id).first()
    if session is None:
        raise Http404(_("找不到该培训场次。"))
    return session, False


@login_required
@require_GET
def session_detail(request, session_id: int):
    session, open_to_member = _session_for(request, session_id)
    context = {
        "session": session,
        "open_to_member": open_to_member,
        "materials": CourseMaterial.objects.filter(course_id=session.course_id).order_by("pk"),
        "now": timezone.now(),
        "can_take_attendance": selectors.visible_sessions(request.user).filter(pk=session.pk).exists(),
    }
    return render(request, "training/session_detail.html", context)


@login_required
@require_POST
def enroll(request, session_id: int):
    member = member_for(request.user)
    if member is None:
        raise PermissionDenied
    session = get_object_or_404(selectors.sessions_open_to(member), pk=session_id)
    try:
        services.enrollment_create(session=session, member=member)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("报名成功：%(course)s。") % {"course": session.course.title})
    return _redirect_back(request, reverse("training:session_detail", args=[session.pk]))


@login_required
@require_POST
def cancel_enrollment(request, session_id: int):
    member = member_for(request.user)
    if member is None:
        raise PermissionDenied
    enrollment = get_object_or_404(
        Enrollment.objects.select_related("session__course"),
        session_id=session_id,
        member=member,
        status=Enrollment.Status.ENROLLED,
    )
    try:
        services.enrollment_cancel(enrollment=enrollment, actor=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, _("已取消报名：%(course)s。") % {"course": enrollment.session.course.title})
    return _redirect_back(request, reverse("training:session_detail", args=[session_id]))


def _attachment(field_file, title: str) -> FileResponse:
    """A stored upload as a download with a content type chosen from its extension — never rendered as a page."""
    try:
        handle = field_file.open("rb")
    except FileNotFoundError:
        raise Http404(_("文件不存在。")) from None
    filename = f"{title}{extension(field_file.name)}"
    return FileResponse(handle, as_attachment=True, filename=filename, content_type=content_type_for(field_file.name))


@login_required
@require_GET
def material_download(request, material_id: int):
    material = get_object_or_404(CourseMaterial.objects.exclude(file=""), pk=material_id)
    member = member_for(request.user)
    allowed = (member is not None and selectors.courses_for_member(member).filter(pk=material.course_id).exists()) or (
        selectors.visible_courses(request.user).filter(pk=material.course_id).exists()
    )
    if not allowed:
        raise Http404(_("找不到该资料。"))
    return _attachment(material.file, material.title)


@login_required
@require_GET
def evidence_download(request, record_id: int):
    record = get_object_or_404(
        TrainingRecord.objects.exclude(evidence="").select_related("member", "course"), pk=record_id
    )
    if record.member.user_id != request.user.pk and not (
        selectors.visible_training_records(request.user).filter(pk=record.pk).exists()
    ):
        raise Http404(_("找不到该记录。"))
    return _attachment(record.evidence, _("证明材料-%(name)s") % {"name": record.member.name})


# --- Secretaries ----------------------------------------------------------------------------------------------


@login_required
@require_GET
def manage(request):
    _require_secretary(request)
    page = Paginator(selectors.sessions_for_secretary(request.user), MANAGE_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "training/manage.html", {"page": page, "now": timezone.now()})


@login_required
@require_http_methods(["GET", "POST"])
def attendance(request, session_id: int):
    session = get_object_or_404(selectors.sessions_for_secretary(request.user), pk=session_id)
    enrollments = list(selectors.enrollments_for_attendance(session))
    form = AttendanceForm(request.POST if request.method == "POST" else None, enrollments=enrollments)
    if request.method == "POST":
        if form.is_valid():
            attended, absent = form.split()
            try:
                services.attendance_record(session=session, attended=attended, absent=absent, actor=request.user)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("考勤已保存：到场 %(attended)d 人，缺席 %(absent)d 人。")
                    % {"attended": len(attended), "absent": len(absent)},
                )
                return redirect("training:attendance", session_id=session.pk)
        messages.error(request, _("考勤没有保存，请检查下面的提示。"))
    ticked = {str(value) for value in form["attended"].value() or []}
    context = {
        "session": session,
        "form": form,
        "rows": [(e, str(e.member_id) in ticked) for e in enrollments],
        "opens": timezone.localdate(session.starts_at) <= timezone.localdate(),
    }
    return render(request, "training/attendance.html", context)


def _completion_report(request):
    """The report the GET parameters ask for; 404 for an organization outside the user's scope."""
    _require_secretary(request)
    organizations = selectors.report_organizations(request.user)
    params = request.GET.copy()
    organization_id = params.get("organization")
    if organization_id:
        if not parse_id(organization_id) or not organizations.filter(pk=parse_id(organization_id)).exists():
            raise Http404(_("找不到该党组织。"))
    else:
        top = organizations.first()
        if top is None:
            raise PermissionDenied
        params["organization"] = str(top.pk)
    form = CompletionFilterForm(params, organizations=organizations)
    if not form.is_valid():
        messages.error(request, _("年度无效，已显示今年的情况。"))
        params["year"] = str(timezone.localdate().year)
        form = CompletionFilterForm(params, organizations=organizations)
        form.is_valid()
    report = selectors.completion_by_branch(form.cleaned_data["organization"], form.cleaned_data["year"])
    return form, report


@login_required
@require_GET
def completion(request):
    form, report = _completion_report(request)
    query = f"organization={report.organization.pk}&year={report.year}"
    return render(request, "training/completion.html", {"form": form, "report": report, "query": query})


def _rate(value) -> float | str:
    return float(value) if value is not None else "—"


@login_required
@require_GET
def completion_export(request):
    _form, report = _completion_report(request)
    workbook = Workbook()
    sheet = workbook.active
    sheet.title = _("学时完成情况")
    # Every row through xlsx_cells: an organization's name that starts like a formula stays text.
    title = _("%(org)s %(year)s 年度培训学时完成情况") % {"org": report.organization.name, "year": report.year}
    sheet.append(xlsx_cells(sheet, [title]))
    sheet["A1"].font = Font(bold=True, size=14)
    headers = [
        _("党组织"),
        _("全年学时要求"),
        _("在册党员数"),
        _("完成人数"),
        _("完成率（%）"),
        _("总学时"),
        _("人均学时"),
    ]
    sheet.append(xlsx_cells(sheet, headers))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in report.rows:
        sheet.append(
            xlsx_cells(
                sheet,
                [
                    row.organization.name,
                    float(row.requirement.total_hours) if row.requirement else "—",
                    row.members,
                    row.completed if row.requirement else "—",
                    _rate(row.rate),
                    float(row.hours),
                    float(row.average),
                ],
            )
        )
    sheet.append(
        xlsx_cells(
            sheet,
            [
                _("合计"),
                "",
                report.members,
                report.completed,
                _rate(report.rate),
                float(report.hours),
                float(report.average),
            ],
        )
    )
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    sheet.column_dimensions["A"].width = 28
    for column in "BCDEFG":
        sheet.column_dimensions[column].width = 14
    buffer = BytesIO()
    workbook.save(buffer)
    response = HttpResponse(
        buffer.getvalue(), content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    response["Content-Disposition"] = attachment(
        _("%(org)s-%(year)s年度培训学时完成情况.xlsx") % {"org": report.organization.name, "year": report.year},
        ascii_fallback=f"training-completion-{report.year}.xlsx",
    )
    audit_record(
        action=AuditEvent.Action.EXPORT,
        request=request,
        obj=report.organization,
        detail={"kind": "training_completion", "year": report.year},
    )
    return response


@login_required
@require_http_methods(["GET", "POST"])
def external_record_new(request):
    _require_secretary(request)
    bound = request.method == "POST"
    form = ExternalTrainingForm(request.POST if bound else None, request.FILES if bound else None, user=request.user)
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                record = services.external_training_record(
                    member=data["member"],
                    course=data["course"],
                    hours=data["hours"],
                    completed_on=data["completed_on"],
                    evidence=data["evidence"],
                    actor=request.user,
                    score=data.get("score"),
                    provider=data.get("provider", ""),
                    note=data.get("note", ""),
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("已为%(name)s记录培训：%(course)s，%(hours)s 学时。")
                    % {"name": record.member.name, "course": record.course.title, "hours": record.hours},
                )
                return redirect("training:external_record_new")
        messages.error(request, _("培训记录没有保存，请检查下面的提示。"))
    return render(request, "training/external_record_form.html", {"form": form})
