"""Courses, sessions, enrollments, training records and annual requirements (see DESIGN.md, training).

Invariants live here as database constraints; every write goes through `training.services`, which takes the locks
(the session row for its seats and its attendance) and computes the derived columns (a record's expiry).
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from core.times import format_local
from members.models import Member, Organization

from .files import validate_evidence_file, validate_material_file


class CourseType(models.TextChoices):
    THEORY = "theory", _("理论培训")
    POST = "post", _("岗位培训")
    BUSINESS = "business", _("业务培训")
    PRACTICAL = "practical", _("实用技术培训")


class Course(models.Model):
    """培训课程. `organization` NULL: offered platform-wide; otherwise to that organization's subtree."""

    Type = CourseType

    type = models.CharField(_("培训类别"), max_length=20, choices=Type.choices)
    title = models.CharField(_("课程名称"), max_length=200)
    hours = models.DecimalField(_("学时"), max_digits=5, decimal_places=2)
    description = models.TextField(_("课程简介"), blank=True)
    validity_months = models.PositiveSmallIntegerField(
        _("资格有效期（月）"),
        null=True,
        blank=True,
        help_text=_("完成后作为服务资格的有效月数；留空表示长期有效。"),
    )
    organization = models.ForeignKey(
        Organization,
        verbose_name=_("开课组织"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="courses",
        help_text=_("留空表示全平台课程。"),
    )
    active = models.BooleanField(_("开放"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("培训课程")
        verbose_name_plural = _("培训课程")
        ordering = ["type", "title"]
        constraints = [
            models.CheckConstraint(condition=Q(type__in=CourseType.values), name="training_course_type_valid"),
            models.CheckConstraint(
                condition=Q(hours__gt=0),
                name="training_course_hours_positive",
                violation_error_message=_("学时必须大于0。"),
            ),
            models.CheckConstraint(
                condition=Q(validity_months__isnull=True) | Q(validity_months__gt=0),
                name="training_course_validity_positive",
                violation_error_message=_("有效期必须大于0个月。"),
            ),
        ]

    def __str__(self):
        return f"{self.title}（{self.get_type_display()}）"


class CourseMaterial(models.Model):
    """课程资料: an uploaded file or a link. Files are only ever downloaded through `training.views`."""

    course = models.ForeignKey(Course, verbose_name=_("培训课程"), on_delete=models.CASCADE, related_name="materials")
    title = models.CharField(_("资料名称"), max_length=200)
    file = models.FileField(
        _("文件"), upload_to="training/materials/%Y/%m/", blank=True, validators=[validate_material_file]
    )
    url = models.URLField(_("链接"), blank=True)
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("课程资料")
        verbose_name_plural = _("课程资料")
        ordering = ["course", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(file="") & ~Q(url="")) | (~Q(file="") & Q(url="")),
                name="training_material_file_xor_url",
                violation_error_message=_("请上传文件或填写链接（二选一）。"),
            ),
        ]

    def __str__(self):
        return self.title


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("已安排")
    CANCELLED = "cancelled", _("已取消")
    DONE = "done", _("已结束")


class TrainingSession(models.Model):
    """培训场次: one sitting of a course, organised by an organization, with a fixed number of seats."""

    Status = SessionStatus
    taken: int  # annotated by training.selectors, not a column

    course = models.ForeignKey(Course, verbose_name=_("培训课程"), on_delete=models.PROTECT, related_name="sessions")
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    place = models.CharField(_("地点"), max_length=200, blank=True)
    online_url = models.URLField(_("线上链接"), blank=True)
    capacity = models.PositiveIntegerField(_("名额"))
    organizer = models.ForeignKey(
        Organization, verbose_name=_("组织单位"), on_delete=models.PROTECT, related_name="training_sessions"
    )
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    cancel_reason = models.CharField(_("取消原因"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("安排人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("培训场次")
        verbose_name_plural = _("培训场次")
        ordering = ["-starts_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="training_session_ends_after_start",
                violation_error_message=_("结束时间必须晚于开始时间。"),
            ),
            models.CheckConstraint(
                condition=Q(capacity__gt=0),
                name="training_session_capacity_positive",
                violation_error_message=_("名额必须大于0。"),
            ),
            models.CheckConstraint(
                condition=~Q(place="") | ~Q(online_url=""),
                name="training_session_has_place",
                violation_error_message=_("请填写地点或线上链接。"),
            ),
            models.CheckConstraint(condition=Q(status__in=SessionStatus.values), name="training_session_status_valid"),
        ]
        indexes = [
            # Upcoming scheduled sessions on /training/: status = 'scheduled' AND starts_at > now ORDER BY starts_at.
            models.Index(fields=["status", "starts_at"], name="training_session_upcoming"),
            # A secretary's sessions: organizer IN (scope) ORDER BY starts_at (/training/manage/, the admin).
            models.Index(fields=["organizer", "starts_at"], name="training_session_organizer"),
        ]

    def __str__(self):
        return f"{self.course.title} {format_local(self.starts_at)}"

    @property
    def seats_left(self) -> int:
        """Free seats; needs the `taken` annotation of `training.selectors` (this property makes no query)."""
        return max(self.capacity - self.taken, 0)


class EnrollmentStatus(models.TextChoices):
    ENROLLED = "enrolled", _("已报名")
    CANCELLED = "cancelled", _("已取消")
    ATTENDED = "attended", _("已参训")
    ABSENT = "absent", _("缺席")


class Enrollment(models.Model):
    """报名参训: a member's seat in a session; attendance is its final status (attended / absent)."""

    Status = EnrollmentStatus

    # Statuses that hold a seat: everything but a cancellation.
    ACTIVE_STATUSES = (Status.ENROLLED, Status.ATTENDED, Status.ABSENT)

    session = models.ForeignKey(
        TrainingSession, verbose_name=_("培训场次"), on_delete=models.PROTECT, related_name="enrollments"
    )
    member = models.ForeignKey(
        Member, verbose_name=_("党员"), on_delete=models.PROTECT, related_name="training_enrollments"
    )
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.ENROLLED)
    created_at = models.DateTimeField(_("报名时间"), auto_now_add=True)
    cancelled_at = models.DateTimeField(_("取消时间"), null=True, blank=True)
    marked_at = models.DateTimeField(_("考勤时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("参训报名")
        verbose_name_plural = _("参训报名")
        ordering = ["session", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "member"],
                condition=Q(status__in=["enrolled", "attended", "absent"]),
                name="training_enrollment_one_active",
                violation_error_message=_("您已报名该场次。"),
            ),
            models.CheckConstraint(
                condition=Q(status__in=EnrollmentStatus.values), name="training_enrollment_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | Q(cancelled_at__isnull=False),
                name="training_enrollment_cancelled_has_time",
            ),
        ]
        indexes = [
            # A member's enrollments on /training/: member = ? AND status = 'enrolled'.
            models.Index(fields=["member", "status"], name="training_enrollment_member"),
        ]

    def __str__(self):
        return f"{self.member.name} → {self.session}"


class TrainingRecord(models.Model):
    """培训记录: a completed training. From a session's attendance (one per member and session) or recorded by a
    secretary for a training taken elsewhere, with evidence."""

    member = models.ForeignKey(
        Member, verbose_name=_("党员"), on_delete=models.PROTECT, related_name="training_records"
    )
    course = models.ForeignKey(Course, verbose_name=_("培训课程"), on_delete=models.PROTECT, related_name="records")
    session = models.ForeignKey(
        TrainingSession,
        verbose_name=_("培训场次"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="records",
        help_text=_("留空表示在平台外参加的培训。"),
    )
    hours = models.DecimalField(_("学时"), max_digits=5, decimal_places=2)
    score = models.DecimalField(_("成绩"), max_digits=5, decimal_places=1, null=True, blank=True)
    completed_on = models.DateField(_("完成日期"))
    expires_on = models.DateField(
        _("有效期至"), null=True, blank=True, help_text=_("在此日期前有效；留空表示长期有效。")
    )
    provider = models.CharField(_("培训机构"), max_length=100, blank=True)
    evidence = models.FileField(
        _("证明材料"), upload_to="training/evidence/%Y/%m/", blank=True, validators=[validate_evidence_file]
    )
    note = models.CharField(_("备注"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("记录人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("培训记录")
        verbose_name_plural = _("培训记录")
        ordering = ["-completed_on", "-pk"]
        constraints = [
            # Attendance submitted twice (a double click, a retried request) finds the first record.
            models.UniqueConstraint(
                fields=["member", "session"],
                condition=Q(session__isnull=False),
                name="training_record_one_per_session",
                violation_error_message=_("该党员在这个场次已有培训记录。"),
            ),
            models.CheckConstraint(
                condition=Q(hours__gt=0),
                name="training_record_hours_positive",
                violation_error_message=_("学时必须大于0。"),
            ),
            models.CheckConstraint(
                condition=Q(score__isnull=True) | Q(score__gte=0, score__lte=100),
                name="training_record_score_0_100",
                violation_error_message=_("成绩应在0到100之间。"),
            ),
            models.CheckConstraint(
                condition=Q(expires_on__isnull=True) | Q(expires_on__gt=F("completed_on")),
                name="training_record_expires_after_completion",
            ),
            models.CheckConstraint(
                condition=Q(session__isnull=False) | ~Q(evidence=""),
                name="training_record_external_has_evidence",
                violation_error_message=_("平台外培训须上传证明材料。"),
            ),
        ]
        indexes = [
            # A member's records of a year: progress_for, /training/ (member = ? AND completed_on BETWEEN …).
            models.Index(fields=["member", "completed_on"], name="training_record_member_date"),
            # The qualification gate: is_qualified (member = ? AND course = ?).
            models.Index(fields=["course", "member"], name="training_record_course_member"),
        ]

    def __str__(self):
        return f"{self.member.name} {self.course.title} {self.hours}h"


class AnnualRequirement(models.Model):
    """年度学时要求 of an organization for a year; it applies to every member below it unless a nearer organization
    sets its own (`selectors.requirement_for`)."""

    organization = models.ForeignKey(
        Organization, verbose_name=_("党组织"), on_delete=models.PROTECT, related_name="training_requirements"
    )
    year = models.PositiveSmallIntegerField(_("年度"))
    total_hours = models.DecimalField(_("全年学时"), max_digits=6, decimal_places=2)
    theory_hours = models.DecimalField(_("理论培训最少学时"), max_digits=6, decimal_places=2, default=0)
    post_hours = models.DecimalField(_("岗位培训最少学时"), max_digits=6, decimal_places=2, default=0)
    business_hours = models.DecimalField(_("业务培训最少学时"), max_digits=6, decimal_places=2, default=0)
    practical_hours = models.DecimalField(_("实用技术培训最少学时"), max_digits=6, decimal_places=2, default=0)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    # Course type → the field holding its minimum.
    TYPE_FIELDS: dict[str, str] = {
        CourseType.THEORY: "theory_hours",
        CourseType.POST: "post_hours",
        CourseType.BUSINESS: "business_hours",
        CourseType.PRACTICAL: "practical_hours",
    }

    class Meta:
        verbose_name = _("年度学时要求")
        verbose_name_plural = _("年度学时要求")
        ordering = ["-year", "organization__path"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "year"],
                name="training_requirement_unique_year",
                violation_error_message=_("该组织这一年度已有学时要求。"),
            ),
            models.CheckConstraint(
                condition=Q(year__gte=2000, year__lte=2100), name="training_requirement_year_plausible"
            ),
            models.CheckConstraint(
                condition=Q(
                    total_hours__gte=0,
                    theory_hours__gte=0,
                    post_hours__gte=0,
                    business_hours__gte=0,
                    practical_hours__gte=0,
                ),
                name="training_requirement_hours_not_negative",
                violation_error_message=_("学时不能为负数。"),
            ),
            models.CheckConstraint(
                condition=Q(
                    total_hours__gte=F("theory_hours") + F("post_hours") + F("business_hours") + F("practical_hours")
                ),
                name="training_requirement_minimums_within_total",
                violation_error_message=_("各类别最少学时之和不能超过全年学时。"),
            ),
        ]

    def __str__(self):
        return f"{self.organization.name} {self.year}"

    def minimum_for(self, course_type: str):
        return getattr(self, self.TYPE_FIELDS[course_type])
