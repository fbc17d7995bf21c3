"""Writes of the site's plans and tasks (年度规划 / 任务分工), of Celery task failures (JobFailure), of the
dashboard snapshots of large organizations (in the shared cache), the monthly digest composed from every app, and
the accounts' second factor (django-otp's devices), and the quarterly and annual reports (上报报告)."""

import logging
import time
from datetime import date, timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.services import user_sessions_end
from core.db import replica_reads
from core.text import check_text, plain_decimal
from core.types import Actor, User
from members import selectors as member_selectors
from members.models import Organization
from notifications import fanout
from notifications.services import notify, notify_many, user_messages

from . import reports, selectors, tasks
from .models import JobFailure, Report, Task, TaskProgressNote

logger = logging.getLogger(__name__)


def _locked_task(task: Task) -> Task:
    return Task.objects.select_for_update().get(pk=task.pk)


def _note_text(text: str) -> str:
    """A progress note as the task page posts it (no form): stripped, within TaskProgressNote.text's 2,000
    characters, without control characters (core/text.py)."""
    text = (text or "").strip()
    limit = TaskProgressNote._meta.get_field("text").max_length or 0
    if len(text) > limit:
        raise ValidationError(
            {"text": _("进展情况最多 %(limit)d 字（现有 %(count)d 字）。") % {"limit": limit, "count": len(text)}}
        )
    try:
        check_text(text, multiline=True)
    except ValidationError as exc:
        raise ValidationError({"text": exc.messages}) from None
    return text


@transaction.atomic
def task_note_add(*, task: Task, author: User, text: str) -> TaskProgressNote:
    """Add a progress note to a task. Lock: the task row (notes and status changes of one task are serialised).
    Invariant: a note has text; notes are never edited."""
    text = _note_text(text)
    if not text:
        raise ValidationError({"text": _("请填写进展情况。")})
    task = _locked_task(task)
    return TaskProgressNote.objects.create(task=task, author=author, text=text)


@transaction.atomic
def task_status_change(*, task: Task, actor: Actor, status: str, note: str = "") -> Task:
    """Move a task to `status`, writing a progress note that records the change. Lock: the task row.
    Invariants: only a known status; a finished task (done/cancelled) is reopened only to 进行中; `completed_on` is
    set exactly while the task is done (a DB check holds it)."""
    if status not in Task.Status.values:
        raise ValidationError({"status": _("未知的任务状态。")})
    note = _note_text(note)
    task = _locked_task(task)
    if status == task.status:
        raise ValidationError({"status": _("任务已经是这个状态。")})
    if task.status not in Task.OPEN_STATUSES and status != Task.Status.IN_PROGRESS:
        raise ValidationError({"status": _("已完成或已取消的任务只能重新设为“进行中”。")})
    task.status = status
    task.completed_on = timezone.localdate() if status == Task.Status.DONE else None
    task.save(update_fields=["status", "completed_on", "updated_at"])
    label = Task.Status(status).label
    TaskProgressNote.objects.create(
        task=task,
        author=actor,
        text=note or _("状态改为“%(status)s”。") % {"status": label},
        status_after=status,
    )
    return task


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


@transaction.atomic
def task_failure_record(
    *,
    task_id: str,
    task_name: str,
    exception: BaseException | None,
    args: object = None,
    kwargs: object = None,
    traceback: str = "",
    request_id: str = "",
    hostname: str = "",
) -> JobFailure:
    """Store one failed Celery task (called from the `task_failure` signal) and prune the rows older than
    JOB_FAILURE_RETENTION_DAYS, so the table stays small without a schedule of its own. No lock: rows are
    independent and never updated."""
    failure = JobFailure.objects.create(
        task_id=_cut(task_id, 255),
        task_name=_cut(task_name, 255),
        arguments=_cut(f"args={args!r} kwargs={kwargs!r}", 2000),
        exception_type=_cut(type(exception).__qualname__ if exception is not None else "", 255),
        message=_cut(str(exception) if exception is not None else "", 4000),
        traceback=_cut(traceback, 20000),
        request_id=_cut(request_id, 64),
        hostname=_cut(hostname, 255),
    )
    cutoff = timezone.now() - timedelta(days=settings.JOB_FAILURE_RETENTION_DAYS)
    JobFailure.objects.filter(failed_at__lt=cutoff).delete()
    return failure


def dashboard_snapshots_refresh(*, today: date | None = None) -> int:
    """Compute the default dashboard of every organization with DASHBOARD_SNAPSHOT_MIN_MEMBERS or more members and
    keep it in the shared cache for two rounds of DASHBOARD_SNAPSHOT_SECONDS (selectors, "Dashboard snapshots");
    returns how many. No lock: each snapshot replaces the previous one whole, so two runs at once are harmless."""
    period = selectors.default_period(today)
    organizations = selectors.snapshot_organizations(settings.DASHBOARD_SNAPSHOT_MIN_MEMBERS)
    for organization in organizations:
        figures = selectors.dashboard(organization, period, today=today)
        # The follow-up list's first page too: under load, sorting a 100,000-member roster per request was what
        # the snapshot page still spent its time on (make bench).
        followup = selectors.members_without_service(organization, period.end.year, summary=figures.summary)
        figures.followup_head = list(followup[: selectors.FOLLOWUP_PAGE_SIZE + 1])
        figures.computed_at = timezone.now()
        # With its stamp, which retires the page renderings of the previous snapshot (dashboard_views.py).
        selectors.snapshot_store(figures, timeout=2 * settings.DASHBOARD_SNAPSHOT_SECONDS)
    return len(organizations)


# --- The monthly digest of a subtree's figures (督促检查), to its secretary and admins ----------------------------


def _previous_month(today: date) -> tuple[int, int]:
    return (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)


def monthly_digest_plan(*, today: date | None = None) -> int:
    """Fan out the monthly digest of the month before `today` (default: today) to every organization someone
    manages, 50 organizations a chunk; returns the chunks. The month travels with the chunks."""
    year, month = _previous_month(today or timezone.localdate())
    return fanout.plan(
        "volunteer_platform.tasks.send_monthly_digest",
        member_selectors.managed_by_anyone(),
        chunk=50,
        kwargs={"year": year, "month": month},
    )


def monthly_digest_send(*, organization_ids: list[int], year: int, month: int) -> int:
    """Send each organization's managers (secretary and admins) the figures of its subtree for the month — the
    members' and records' (`members.selectors.monthly_figures`), and the wishes, satisfaction and overdue tasks
    (`selectors.digest_extras`) — once (dedupe key: month, organization, user); returns the rows written.
    Kind `digest`: in-app, and email when chosen."""
    managers = member_selectors.organization_managers(organization_ids)
    messages = []
    for organization in Organization.objects.filter(pk__in=list(managers)).order_by("pk"):
        figures = member_selectors.monthly_figures(organization, year, month)
        context = {
            "organization": organization.name,
            "year": year,
            "month": month,
            "members_active": figures.members_active,
            "members_new": figures.members_new,
            "services": figures.services,
            "hours": plain_decimal(figures.hours),
            "volunteers": figures.volunteers,
            "records_new": figures.records_new,
            "records_pending": figures.records_pending,
            "residences_confirmed": figures.residences_confirmed,
            "residences_pending": figures.residences_pending,
            **selectors.digest_extras(organization, year, month),
        }
        for user in managers[organization.pk]:
            messages += user_messages(
                user_id=user.pk,
                kind="digest",
                template="members_monthly_digest",
                dedupe_key=f"members:digest:{year}-{month:02d}:{organization.pk}:{user.pk}",
                context=context,
                has_email=bool(user.email),
            )
    return notify_many(messages)


# --- Second factor (django-otp: a TOTP app, and recovery codes) --------------------------------------------------


def _second_factor_error(message: str, code: str) -> ValidationError:
    return ValidationError({"token": ValidationError(message, code=code)})


@transaction.atomic
def second_factor_confirm(*, user: User, key: str, token: str) -> tuple[TOTPDevice, list[str]]:
    """Set up the account's TOTP device with `key` (hex, shown on the setup page and kept in the session until
    now), if `token` is the app's current code for it; give the account SECOND_FACTOR_RECOVERY_CODES new recovery
    codes (returned once, to be shown once). Nothing is stored before the code is right. Lock: the account row.
    Invariant: an account has one TOTP device (turn it off before setting up another). A wrong code raises a
    ValidationError keyed "token"."""
    User.objects.select_for_update().get(pk=user.pk)
    if TOTPDevice.objects.filter(user=user).exists():
        raise _second_factor_error(_("已经开启两步验证。"), "already_set_up")
    device = TOTPDevice(user=user, name=_("验证器应用"), key=key, confirmed=True)
    token = "".join(token.split())
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time()
    if not (len(token) == 6 and token.isascii() and token.isdigit() and totp.verify(int(token), device.tolerance)):
        raise _second_factor_error(_("验证码不正确。请输入验证器应用上当前显示的6位数字。"), "wrong_token")
    device.last_t = totp.t()  # this code cannot be used again
    device.save()
    return device, _new_recovery_codes(user)


def _new_recovery_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    static = StaticDevice.objects.create(user=user, name=_("恢复码"), confirmed=True)
    codes = [StaticToken.random_token() for _i in range(settings.SECOND_FACTOR_RECOVERY_CODES)]
    StaticToken.objects.bulk_create(StaticToken(device=static, token=code) for code in codes)
    return codes


def second_factor_check(*, user: User, token: str) -> TOTPDevice | StaticDevice:
    """The device that accepts `token`: the TOTP app's 6 digits, or a recovery code (used up). Raises a
    ValidationError keyed "token" otherwise. Each device counts its own failures (django-otp's throttling: after a
    wrong code the next try waits 1, 2, 4 … seconds); the wait is committed even though the caller gets an error."""
    token = "".join(token.split()).lower()
    totp, static = selectors.second_factor_devices(user)
    with transaction.atomic():
        if len(token) == 6 and token.isdigit():  # the app's code; recovery codes are 8 letters and digits
            if totp is None:
                raise _second_factor_error(_("验证码不正确。"), "wrong_token")
            app = TOTPDevice.objects.select_for_update().get(pk=totp.pk)
            if app.verify_token(token):
                return app
        elif static is not None and token.isalnum() and token.isascii():
            codes = StaticDevice.objects.select_for_update().get(pk=static.pk)
            if codes.verify_token(token):
                return codes
    raise _second_factor_error(
        _("验证码不正确或需要稍候再试。请输入验证器应用上的6位数字，或一个未用过的恢复码。"), "wrong_token"
    )


@transaction.atomic
def second_factor_turn_off(*, user: User, token: str) -> None:
    """Turn the account's second factor off, with a current code. Refused for a platform admin while
    SECOND_FACTOR_FOR_ADMINS is on. Lock: the account row."""
    User.objects.select_for_update().get(pk=user.pk)
    if selectors.second_factor_required(user):
        raise _second_factor_error(_("平台管理员必须开启两步验证。"), "required")
    second_factor_check(user=user, token=token)
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()


@transaction.atomic
def second_factor_reset(*, user: User, actor: Actor = None) -> int:
    """Remove every second-factor device of the account and end its sessions (a lost phone and lost recovery codes:
    `manage.py second_factor_reset`); at the next sign-in a platform admin sets one up again. Returns the number of
    devices removed. Lock: the account row."""
    User.objects.select_for_update().get(pk=user.pk)
    removed = TOTPDevice.objects.filter(user=user).count() + StaticDevice.objects.filter(user=user).count()
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
    user_sessions_end(user=user, actor=actor, reason="second_factor_reset")
    return removed


# --- Quarterly and annual reports (上报报告) ------------------------------------------------------------------------

# A report still pending after this long lost its task (a broker outage, a worker killed): asking again queues it anew.
REPORT_REQUEUE_AFTER = timedelta(minutes=15)


def _publish_report_build(report_id: int) -> None:
    try:
        tasks.build_report.delay(report_id)
    except Exception:  # broker down: the report stays pending; asking again after REPORT_REQUEUE_AFTER queues it
        logger.warning("could not queue report %s", report_id, exc_info=True)


@transaction.atomic
def report_request(
    *, organization: Organization, kind: str, year: int, quarter: int, requested_by: User, today: date | None = None
) -> tuple[Report, bool]:
    """Ask for `organization`'s quarterly (`quarter` 1–4) or annual (`quarter` 0) report; Celery builds it after
    commit. Returns (the report, whether it is new). Idempotent: while a report of the same organization, kind and
    period is pending, that one is returned (the partial unique constraint site_report_one_pending holds it under
    concurrency), and queued again when it has waited longer than REPORT_REQUEUE_AFTER. A period that has not
    begun is refused. No lock beyond the constraint."""
    today = today or timezone.localdate()
    if kind not in Report.Kind.values:
        raise ValidationError({"kind": _("未知的报告类型。")})
    if kind == Report.Kind.ANNUAL:
        quarter = 0
    elif not 1 <= quarter <= 4:
        raise ValidationError({"quarter": _("请选择季度。")})
    if not 2000 <= year <= 2100 or selectors.report_period(kind, year, quarter).start > today:
        raise ValidationError({"year": _("只能为已经开始的季度或年度生成报告。")})
    key = {"organization": organization, "kind": kind, "year": year, "quarter": quarter}
    pending = Report.objects.filter(status=Report.Status.PENDING, **key)
    existing = pending.first()
    if existing is None:
        try:
            with transaction.atomic():  # a savepoint: losing the race to the constraint keeps the caller's transaction
                report = Report.objects.create(requested_by=requested_by, **key)
        except IntegrityError:
            existing = pending.first()
            if existing is None:
                raise
        else:
            transaction.on_commit(partial(_publish_report_build, report.pk))
            return report, True
    if existing.created_at <= timezone.now() - REPORT_REQUEUE_AFTER:
        transaction.on_commit(partial(_publish_report_build, existing.pk))
    return existing, False


def _report_context(report: Report) -> dict:
    return {
        "organization": report.organization.name,
        "period": report.period_label,
        "kind": str(report.get_kind_display()),
        "link": f"{reverse('dashboard:reports')}?org={report.organization_id}",
    }


def report_build(*, report_id: int, today: date | None = None) -> str:
    """Build a pending report's Word document and PDF (volunteer_platform.reports, from the dashboard's selectors),
    store them and tell whoever asked for it (in-app, once: the dedupe key names the report). Idempotent: a report
    no longer pending is left as it is, and of two runs at once the second finds it taken (a row lock around the
    short write; the build itself holds no lock). A failure marks the report failed, tells the requester and is
    raised again, so Celery records it. Returns the report's status."""
    report = Report.objects.select_related("organization", "requested_by").get(pk=report_id)
    if report.status != Report.Status.PENDING:
        return report.status
    try:
        # The figures may come from the read replica (core/db.py), as the dashboard's do; the writes below go to
        # the primary.
        built = replica_reads()(reports.build)(report, today=today)
    except Exception as exc:
        _report_finish(report, status=Report.Status.FAILED, error=f"{type(exc).__name__}: {exc}"[:500])
        raise
    stem = f"report-{report.organization_id}-{report.pk}-{report.kind}-{report.year}q{report.quarter}"
    docx_name = report.docx.storage.save(f"reports/{report.year}/{stem}.docx", ContentFile(built.docx))
    pdf_name = report.pdf.storage.save(f"reports/{report.year}/{stem}.pdf", ContentFile(built.pdf))
    if not _report_finish(report, status=Report.Status.READY, docx=docx_name, pdf=pdf_name):
        report.docx.storage.delete(docx_name)  # another run stored its files first
        report.pdf.storage.delete(pdf_name)
    return Report.Status.READY


@transaction.atomic
def _report_finish(report: Report, *, status: str, docx: str = "", pdf: str = "", error: str = "") -> bool:
    """Mark a pending report ready (with its files) or failed and tell the requester; False if it was no longer
    pending. Lock: the report row."""
    locked = Report.objects.select_for_update().get(pk=report.pk)
    if locked.status != Report.Status.PENDING:
        return False
    Report.objects.filter(pk=report.pk).update(
        status=status, docx=docx, pdf=pdf, error=error, finished_at=timezone.now()
    )
    if report.requested_by is not None:
        ready = status == Report.Status.READY
        notify(
            template="site_report_ready" if ready else "site_report_failed",
            channel="inapp",
            user=report.requested_by,
            dedupe_key=f"site:report:{report.pk}:{status}",
            context=_report_context(report),
        )
    return True
