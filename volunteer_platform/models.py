"""Development plans (年度规划) and task division (任务分工): the site's own data, used by the secretaries' dashboard.

They live in the site layer because a plan's progress is read from every app's records (members, demands,
training, projects); no lower app needs them.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from members.models import Member, Organization


class Plan(models.Model):
    """An organization's annual plan for volunteer service: a year and its targets."""

    organization = models.ForeignKey(
        Organization, verbose_name=_("党组织"), on_delete=models.PROTECT, related_name="volunteer_plans"
    )
    year = models.PositiveSmallIntegerField(_("年度"))
    title = models.CharField(_("规划名称"), max_length=100)
    summary = models.TextField(_("工作思路"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("年度规划")
        verbose_name_plural = _("年度规划")
        ordering = ["-year", "organization__path"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "year"], name="site_plan_unique_year"),
            models.CheckConstraint(condition=Q(year__gte=2000, year__lte=2100), name="site_plan_year_range"),
        ]

    def __str__(self):
        return f"{self.organization.name} {self.year} {self.title}"


class TargetMetric(models.TextChoices):
    HOURS_PER_MEMBER = "hours_per_member", _("人均服务时长（小时）")
    WISHES_FULFILLED = "wishes_fulfilled", _("实现微心愿（个）")
    PARTICIPATION_RATE = "participation_rate", _("党员参与率（%）")
    TRAINING_HOURS = "training_hours", _("人均培训学时")
    PROJECTS_RUN = "projects_run", _("开展服务项目（个）")


class PlanTarget(models.Model):
    """One target of a plan; its progress is computed from the records, never typed in."""

    Metric = TargetMetric

    plan = models.ForeignKey(Plan, verbose_name=_("年度规划"), on_delete=models.CASCADE, related_name="targets")
    metric = models.CharField(_("指标"), max_length=30, choices=Metric.choices)
    value = models.DecimalField(_("目标值"), max_digits=10, decimal_places=2)

    class Meta:
        verbose_name = _("规划指标")
        verbose_name_plural = _("规划指标")
        ordering = ["plan", "metric"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "metric"], name="site_target_unique_metric"),
            models.CheckConstraint(condition=Q(metric__in=TargetMetric.values), name="site_target_metric_valid"),
            models.CheckConstraint(condition=Q(value__gt=0), name="site_target_value_positive"),
        ]

    def __str__(self):
        return f"{self.get_metric_display()} {self.value}"


class TaskStatus(models.TextChoices):
    TODO = "todo", _("未开始")
    IN_PROGRESS = "in_progress", _("进行中")
    DONE = "done", _("已完成")
    CANCELLED = "cancelled", _("已取消")


class Task(models.Model):
    """任务分工: one piece of a plan, assigned to a child organization or to a member, with a due date."""

    Status = TaskStatus
    OPEN_STATUSES = (Status.TODO, Status.IN_PROGRESS)
    plan_visible: bool  # annotated by volunteer_platform.selectors.task_page, not a column

    plan = models.ForeignKey(Plan, verbose_name=_("年度规划"), on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(_("任务"), max_length=100)
    description = models.TextField(_("要求"), blank=True)
    assignee_organization = models.ForeignKey(
        Organization,
        verbose_name=_("责任组织"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="volunteer_tasks",
    )
    assignee_member = models.ForeignKey(
        Member,
        verbose_name=_("责任人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="volunteer_tasks",
    )
    due_on = models.DateField(_("完成时限"))
    status = models.CharField(_("状态"), max_length=12, choices=Status.choices, default=Status.TODO)
    completed_on = models.DateField(_("完成日期"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("任务分工")
        verbose_name_plural = _("任务分工")
        ordering = ["due_on", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=TaskStatus.values), name="site_task_status_valid"),
            # Exactly one assignee: an organization or a member.
            models.CheckConstraint(
                condition=Q(assignee_organization__isnull=True, assignee_member__isnull=False)
                | Q(assignee_organization__isnull=False, assignee_member__isnull=True),
                name="site_task_one_assignee",
                violation_error_message=_("请指定责任组织或责任人（只能选一个）。"),
            ),
            models.CheckConstraint(
                condition=Q(status="done", completed_on__isnull=False) | (~Q(status="done") & Q(completed_on=None)),
                name="site_task_done_has_date",
            ),
        ]
        indexes = [
            # Overdue tasks (dashboard, monthly digest): status IN ('todo', 'in_progress') AND due_on < today.
            models.Index(fields=["status", "due_on"], name="site_task_status_due"),
        ]

    def __str__(self):
        return self.title

    @property
    def assignee_name(self) -> str:
        if self.assignee_organization is not None:
            return self.assignee_organization.name
        return self.assignee_member.name if self.assignee_member is not None else ""

    def is_overdue(self, today) -> bool:
        return self.status in self.OPEN_STATUSES and self.due_on < today


class TaskProgressNote(models.Model):
    """A dated, attributed note on a task's progress (督促检查); a status change writes one too. Never edited."""

    task = models.ForeignKey(Task, verbose_name=_("任务"), on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("填写人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    text = models.TextField(_("进展情况"), max_length=2000)
    status_after = models.CharField(_("之后的状态"), max_length=12, choices=TaskStatus.choices, blank=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("任务进展")
        verbose_name_plural = _("任务进展")
        ordering = ["task", "-created_at", "-pk"]

    def __str__(self):
        return self.text[:40]


class JobFailure(models.Model):
    """A Celery task that failed for good (its retries, if any, used up), written by the `task_failure` signal
    (volunteer_platform.observability). Results of successful tasks are not stored anywhere; failures are rare and
    kept JOB_FAILURE_RETENTION_DAYS (pruned as new ones arrive). Shown read-only in the admin."""

    task_id = models.CharField(_("任务ID"), max_length=255, db_index=True)
    task_name = models.CharField(_("任务名称"), max_length=255)
    # Tasks take ids, never personal data (DESIGN.md, "Celery"); the repr is cut short all the same.
    arguments = models.TextField(_("参数"), blank=True)
    exception_type = models.CharField(_("异常类型"), max_length=255)
    message = models.TextField(_("错误信息"), blank=True)
    traceback = models.TextField(_("调用栈"), blank=True)
    request_id = models.CharField(
        _("请求ID"), max_length=64, blank=True, db_index=True, help_text=_("与网页请求和日志中的 request_id 相同")
    )
    hostname = models.CharField(_("执行节点"), max_length=255, blank=True)
    failed_at = models.DateTimeField(_("失败时间"), auto_now_add=True, db_index=True)  # admin order; the pruning

    class Meta:
        verbose_name = _("后台任务失败记录")
        verbose_name_plural = _("后台任务失败记录")
        ordering = ["-failed_at"]

    def __str__(self) -> str:
        return f"{self.task_name} {self.task_id}"


class ReportKind(models.TextChoices):
    QUARTERLY = "quarterly", _("季度报告")
    ANNUAL = "annual", _("年度报告")


class ReportStatus(models.TextChoices):
    PENDING = "pending", _("生成中")
    READY = "ready", _("已生成")
    FAILED = "failed", _("生成失败")


class Report(models.Model):
    """A quarterly or annual report of an organization's subtree for the organization above (上报): the dashboard's
    figures of the period beside the previous period's, as a Word document and a PDF built by Celery
    (volunteer_platform.reports). The files are private media: only the report page streams them, in scope."""

    Kind = ReportKind
    Status = ReportStatus

    organization = models.ForeignKey(
        Organization, verbose_name=_("党组织"), on_delete=models.PROTECT, related_name="volunteer_reports"
    )
    kind = models.CharField(_("报告类型"), max_length=10, choices=Kind.choices)
    year = models.PositiveSmallIntegerField(_("年度"))
    quarter = models.PositiveSmallIntegerField(_("季度"), default=0, help_text=_("年度报告为 0。"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("申请人"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    docx = models.FileField(_("Word 文档"), upload_to="reports/%Y/%m/", blank=True)
    pdf = models.FileField(_("PDF 文档"), upload_to="reports/%Y/%m/", blank=True)
    error = models.CharField(_("失败原因"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("申请时间"), auto_now_add=True)
    finished_at = models.DateTimeField(_("完成时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("上报报告")
        verbose_name_plural = _("上报报告")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ReportKind.values), name="site_report_kind_valid"),
            models.CheckConstraint(condition=Q(status__in=ReportStatus.values), name="site_report_status_valid"),
            models.CheckConstraint(condition=Q(year__gte=2000, year__lte=2100), name="site_report_year_range"),
            # A quarterly report names its quarter; an annual one has none (0).
            models.CheckConstraint(
                condition=Q(kind="quarterly", quarter__gte=1, quarter__lte=4) | Q(kind="annual", quarter=0),
                name="site_report_quarter_valid",
            ),
            # A ready report has both files and its time; a pending one has neither.
            models.CheckConstraint(
                condition=Q(status="pending", finished_at=None)
                | (Q(status="ready", finished_at__isnull=False) & ~Q(docx="") & ~Q(pdf=""))
                | Q(status="failed", finished_at__isnull=False),
                name="site_report_finished",
            ),
            # One report of a kind and period at a time per organization while it is being built (report_request).
            models.UniqueConstraint(
                fields=["organization", "kind", "year", "quarter"],
                condition=Q(status="pending"),
                name="site_report_one_pending",
            ),
        ]
        indexes = [
            # The reports page: an organization's subtree, newest first (selectors.reports_for).
            models.Index(fields=["organization", "-created_at"], name="site_report_org_created"),
        ]

    def __str__(self) -> str:
        return f"{self.organization} {self.period_label}"

    @property
    def period_label(self) -> str:
        if self.kind == ReportKind.ANNUAL:
            return _("%(year)s年度") % {"year": self.year}
        return _("%(year)s年第%(quarter)s季度") % {"year": self.year, "quarter": self.quarter}
