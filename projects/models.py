"""Service projects (品牌项目), their activities, sign-ups, standing posts and self-reports (see DESIGN.md, projects).

Invariants live here as database constraints; every write goes through `projects.services`, which takes the locks
that keep the invariants a constraint cannot state (seats, a post's places) — see the docstring of that module.
"""

from datetime import datetime
from decimal import ROUND_DOWN, Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length
from django.db.models.lookups import Exact
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from core.names import EnglishNamed
from core.times import DATE, format_local
from members.models import Community, Grid, Member, Organization, ServiceRecord, Tag, Team
from members.national import SERVICE_CATEGORY_CHOICES
from training.models import Course

# --- Catalogues and choices -------------------------------------------------------------------------------------


class ProjectCategory(EnglishNamed, models.Model):
    """An entry of the admin-editable category list (助老, 助残, 关爱儿童, …), seeded by a data migration."""

    name = models.CharField(_("名称"), max_length=50, unique=True)
    name_en = models.CharField(
        _("英文名称"), max_length=100, blank=True, help_text=_("英文界面显示的名称；留空时显示中文名称。")
    )
    position = models.PositiveSmallIntegerField(_("排序"), default=0)
    active = models.BooleanField(_("启用"), default=True)
    # MZ/T 061 服务类别 of the national system, carried by its services' records (ServiceRecord.service_category).
    national_category = models.CharField(
        _("全国系统服务类别"), max_length=32, choices=SERVICE_CATEGORY_CHOICES, blank=True, default=""
    )

    class Meta:
        verbose_name = _("项目类别")
        verbose_name_plural = _("项目类别")
        ordering = ["position", "name"]

    def __str__(self):
        return self.display_name


class ServiceMode(models.TextChoices):
    DIRECT = "direct", _("直接联系服务群众")
    PAIRING = "pairing", _("结对帮扶")
    GRID = "grid", _("网格化服务")
    FIXED_POINT = "fixed_point", _("集中定点服务")
    TEAM = "team", _("组团服务")


class TargetGroup(models.TextChoices):
    """服务对象. A project's groups are a bit mask (`ServiceProject.target_groups`): bit i is `TargetGroup.values[i]`.

    A mask rather than a JSON list for the reason members/availability.py gives: a CHECK keeps it valid and
    "serves empty-nest elderly" is a portable bitwise filter on SQLite and PostgreSQL alike.
    """

    UNEMPLOYED = "unemployed", _("下岗失业人员")
    LOW_INCOME = "low_income", _("特困低保家庭")
    DISABLED = "disabled", _("残障人士")
    ELDERLY_ALONE = "elderly_alone", _("空巢老人")
    LEFT_BEHIND_CHILDREN = "left_behind_children", _("留守儿童")
    GENERAL = "general", _("社区群众")


TARGET_GROUPS_FULL_MASK = (1 << len(TargetGroup.values)) - 1


def target_group_bit(code: str) -> int:
    return 1 << TargetGroup.values.index(code)


def target_groups_mask(codes) -> int:
    mask = 0
    for code in codes:
        mask |= target_group_bit(code)
    return mask


def target_group_codes(mask: int) -> list[str]:
    return [code for i, code in enumerate(TargetGroup.values) if mask & (1 << i)]


class ProjectStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PUBLISHED = "published", _("已发布")
    CLOSED = "closed", _("已结束")


class Recurrence(models.TextChoices):
    NONE = "none", _("不重复")
    WEEKLY = "weekly", _("每周")
    MONTHLY = "monthly", _("每月")


class Weekday(models.IntegerChoices):
    # Python's date.weekday(): Monday is 0.
    MON = 0, _("周一")
    TUE = 1, _("周二")
    WED = 2, _("周三")
    THU = 3, _("周四")
    FRI = 4, _("周五")
    SAT = 5, _("周六")
    SUN = 6, _("周日")


# --- Projects ---------------------------------------------------------------------------------------------------


class ServiceProject(models.Model):
    """服务项目（品牌项目）: regular, branded service organised by a party organization.

    A recurring project (weekly: every <weekday> at <time>; monthly: the <week>-th <weekday> of each month) has its
    activities generated ahead by `services.activities_generate`; its posts add weekly slots of their own.
    """

    Status = ProjectStatus
    Mode = ServiceMode
    # Set by projects.selectors.project_list on the rows it returns (not columns).
    next_starts_at: datetime | None
    next_taken: int | None
    Recurrence = Recurrence

    slug = models.SlugField(
        _("网址标识"), max_length=60, unique=True, help_text=_("项目页面网址的一部分，只能用英文字母、数字和连字符。")
    )
    title = models.CharField(_("项目名称"), max_length=100)
    brand_name = models.CharField(_("品牌名称"), max_length=50, blank=True)
    slogan = models.CharField(_("口号"), max_length=100, blank=True)
    # Re-encoded to PNG by services.project_save (validators.clean_logo); served by a view, never from MEDIA_URL.
    logo = models.ImageField(_("标识"), upload_to="projects/logos/", blank=True)
    category = models.ForeignKey(
        ProjectCategory, verbose_name=_("项目类别"), on_delete=models.PROTECT, related_name="projects"
    )
    service_mode = models.CharField(_("服务方式"), max_length=20, choices=ServiceMode.choices)
    target_groups = models.PositiveSmallIntegerField(_("服务对象"), default=0)
    organization = models.ForeignKey(
        Organization, verbose_name=_("组织单位"), on_delete=models.PROTECT, related_name="service_projects"
    )
    community = models.ForeignKey(
        Community,
        verbose_name=_("社区（村）"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="service_projects",
    )
    grid = models.ForeignKey(
        Grid, verbose_name=_("网格"), null=True, blank=True, on_delete=models.SET_NULL, related_name="service_projects"
    )
    place = models.CharField(_("服务地点"), max_length=200)
    description = models.TextField(_("项目介绍"), blank=True)
    skills_wanted = models.ManyToManyField(
        Tag, verbose_name=_("需要的特长"), blank=True, related_name="service_projects"
    )
    course_required = models.ForeignKey(
        Course,
        verbose_name=_("需要的培训"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="service_projects",
        help_text=_("设置后，只有完成该培训且在有效期内的党员才能报名。"),
    )
    status = models.CharField(_("状态"), max_length=10, choices=ProjectStatus.choices, default=ProjectStatus.DRAFT)
    recurrence = models.CharField(_("重复"), max_length=10, choices=Recurrence.choices, default=Recurrence.NONE)
    recurrence_weekday = models.PositiveSmallIntegerField(_("星期"), choices=Weekday.choices, null=True, blank=True)
    recurrence_week = models.PositiveSmallIntegerField(
        _("每月第几周"), null=True, blank=True, help_text=_("每月重复时填写：1–4，表示每月第几个该星期。")
    )
    recurrence_time = models.TimeField(_("开始时间"), null=True, blank=True)
    recurrence_minutes = models.PositiveSmallIntegerField(_("时长（分钟）"), null=True, blank=True)
    recurrence_capacity = models.PositiveIntegerField(_("每次名额"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("服务项目")
        verbose_name_plural = _("服务项目")
        ordering = ["title", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ProjectStatus.values), name="projects_project_status_valid"),
            models.CheckConstraint(
                condition=Q(service_mode__in=ServiceMode.values), name="projects_project_mode_valid"
            ),
            models.CheckConstraint(
                condition=Q(target_groups__gte=0, target_groups__lte=TARGET_GROUPS_FULL_MASK),
                name="projects_project_target_groups_mask",
            ),
            models.CheckConstraint(
                condition=Q(recurrence__in=Recurrence.values), name="projects_project_recurrence_valid"
            ),
            # A recurring project says when, how long and how many; a monthly one also which week.
            models.CheckConstraint(
                condition=Q(recurrence="none")
                | Q(
                    recurrence_weekday__isnull=False,
                    recurrence_weekday__lte=6,
                    recurrence_time__isnull=False,
                    recurrence_minutes__gt=0,
                    recurrence_capacity__gt=0,
                ),
                name="projects_project_recurrence_complete",
                violation_error_message=_("重复的项目需要填写星期、开始时间、时长和每次名额。"),
            ),
            models.CheckConstraint(
                condition=~Q(recurrence="monthly") | Q(recurrence_week__gte=1, recurrence_week__lte=4),
                name="projects_project_monthly_week",
                violation_error_message=_("每月重复的项目需要填写第几周（1–4）。"),
            ),
        ]
        indexes = [
            # /projects/: status = 'published' filtered by category / mode, ordered by title.
            models.Index(fields=["status", "category"], name="projects_project_browse"),
            # /projects/ unfiltered: a page of the published projects in title order, read from the index.
            models.Index(fields=["title", "id"], condition=Q(status="published"), name="projects_project_list"),
            # The admin and the scope: organization IN (subtree).
            models.Index(fields=["organization"], name="projects_project_org"),
        ]

    def __str__(self):
        return self.title

    @property
    def display_name(self) -> str:
        return self.brand_name or self.title

    @property
    def target_group_codes(self) -> list[str]:
        return target_group_codes(self.target_groups)

    @property
    def target_group_labels(self) -> list[str]:
        labels = dict(TargetGroup.choices)
        return [str(labels[code]) for code in self.target_group_codes]


# --- Standing posts ---------------------------------------------------------------------------------------------


class Post(models.Model):
    """岗位 (认领项目岗位): a standing weekly place in a project — "every Wednesday afternoon, 4 places".

    `activities_generate` creates the post's weekly activities (its slot) and signs every active claimer up.
    """

    project = models.ForeignKey(
        ServiceProject, verbose_name=_("服务项目"), on_delete=models.CASCADE, related_name="posts"
    )
    title = models.CharField(_("岗位名称"), max_length=100)
    weekday = models.PositiveSmallIntegerField(_("星期"), choices=Weekday.choices)
    start_time = models.TimeField(_("开始时间"))
    minutes = models.PositiveSmallIntegerField(_("时长（分钟）"))
    places = models.PositiveSmallIntegerField(_("岗位数"))
    description = models.CharField(_("岗位说明"), max_length=200, blank=True)
    active = models.BooleanField(_("开放认领"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("岗位")
        verbose_name_plural = _("岗位")
        ordering = ["project", "weekday", "start_time", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(places__gt=0), name="projects_post_places_positive"),
            models.CheckConstraint(condition=Q(minutes__gt=0), name="projects_post_minutes_positive"),
            models.CheckConstraint(condition=Q(weekday__lte=6), name="projects_post_weekday_valid"),
            models.UniqueConstraint(
                fields=["project", "weekday", "start_time"],
                name="projects_post_unique_slot",
                violation_error_message=_("该项目在这个时段已有岗位。"),
            ),
        ]

    def __str__(self):
        return f"{self.project.title} · {self.title}"


class PostClaimStatus(models.TextChoices):
    ACTIVE = "active", _("在岗")
    LEFT = "left", _("已退出")


class PostClaim(models.Model):
    """A member holding a post. While active, the member is signed up to each of the post's activities."""

    Status = PostClaimStatus

    post = models.ForeignKey(Post, verbose_name=_("岗位"), on_delete=models.CASCADE, related_name="claims")
    member = models.ForeignKey(Member, verbose_name=_("党员"), on_delete=models.PROTECT, related_name="post_claims")
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.ACTIVE)
    claimed_at = models.DateTimeField(_("认领时间"), auto_now_add=True)
    left_at = models.DateTimeField(_("退出时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("岗位认领")
        verbose_name_plural = _("岗位认领")
        ordering = ["post", "claimed_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["post", "member"],
                condition=Q(status="active"),
                name="projects_claim_one_active",
                violation_error_message=_("您已认领该岗位。"),
            ),
            models.CheckConstraint(condition=Q(status__in=PostClaimStatus.values), name="projects_claim_status_valid"),
            models.CheckConstraint(
                condition=~Q(status="left") | Q(left_at__isnull=False), name="projects_claim_left_has_time"
            ),
        ]
        indexes = [
            # "My posts": member = ? AND status = 'active'.
            models.Index(fields=["member", "status"], name="projects_claim_member"),
        ]

    def __str__(self):
        return f"{self.member.name} → {self.post}"


class PostSkip(models.Model):
    """A date a claimer will not serve (请假): no sign-up is made for it, an existing one is cancelled."""

    claim = models.ForeignKey(PostClaim, verbose_name=_("岗位认领"), on_delete=models.CASCADE, related_name="skips")
    date = models.DateField(_("日期"))
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("岗位请假")
        verbose_name_plural = _("岗位请假")
        ordering = ["date"]
        constraints = [models.UniqueConstraint(fields=["claim", "date"], name="projects_skip_unique_date")]

    def __str__(self):
        return f"{self.claim} {self.date}"


# --- Activities and sign-ups ------------------------------------------------------------------------------------


class ActivityStatus(models.TextChoices):
    """What the organizers decided or recorded. What a person sees is `Activity.phase(now)`, never this alone."""

    SCHEDULED = "scheduled", _("已安排")
    CANCELLED = "cancelled", _("已取消")
    COMPLETED = "completed", _("已记录考勤")


class ActivityPhase(models.TextChoices):
    """What an activity is at a moment (`Activity.phase`), the state every page and the admin list show. Derived from
    the times, the stored status, the project's status and the seats; never stored.

    A full activity still takes sign-ups onto its waiting list (which has no limit): it shows 报名中（可候补） and its
    button says 报名候补."""

    NOT_OPEN = "not_open", pgettext_lazy("activity phase", "未开放报名")
    OPEN = "open", pgettext_lazy("activity phase", "报名中")
    WAITLIST = "waitlist", pgettext_lazy("activity phase", "报名中（可候补）")
    CLOSED = "closed", pgettext_lazy("activity phase", "报名截止")
    IN_PROGRESS = "in_progress", pgettext_lazy("activity phase", "进行中")
    ENDED = "ended", pgettext_lazy("activity phase", "已结束")
    CANCELLED = "cancelled", pgettext_lazy("activity phase", "已取消")

    @property
    def accepts_signups(self) -> bool:
        return self in (ActivityPhase.OPEN, ActivityPhase.WAITLIST)


class Activity(models.Model):
    """活动: one occurrence of a project, with seats, a sign-up window, a cancellation cut-off and a check-in code."""

    Status = ActivityStatus
    confirmed_count: int  # annotated by projects.selectors (with_counts), not a column

    project = models.ForeignKey(
        ServiceProject, verbose_name=_("服务项目"), on_delete=models.PROTECT, related_name="activities"
    )
    post = models.ForeignKey(
        Post, verbose_name=_("岗位"), null=True, blank=True, on_delete=models.SET_NULL, related_name="activities"
    )
    title = models.CharField(_("活动名称"), max_length=100, blank=True, help_text=_("不填则使用项目名称。"))
    leader = models.ForeignKey(
        Member,
        verbose_name=_("现场负责人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_activities",
        help_text=_("考勤时，现场负责人的服务记录按“现场负责人”记录，积分乘以积分规则中的负责人倍数。"),
    )
    starts_at = models.DateTimeField(_("开始时间"))
    ends_at = models.DateTimeField(_("结束时间"))
    place = models.CharField(_("地点"), max_length=200)
    capacity = models.PositiveIntegerField(_("名额"))
    signup_opens_at = models.DateTimeField(_("报名开始"))
    signup_closes_at = models.DateTimeField(_("报名截止"))
    cancel_cutoff_at = models.DateTimeField(_("取消截止"), help_text=_("此时间之后取消报名记为逾期取消。"))
    checkin_code = models.CharField(_("签到码"), max_length=6)
    # The check-in place (optional): a member's check-in from a phone that reports a position farther than the
    # radius is refused (projects.services.checkin). WGS-84, the coordinates a phone's browser reports.
    latitude = models.DecimalField(_("签到点纬度"), max_digits=9, decimal_places=6, null=True, blank=True)
    longitude = models.DecimalField(_("签到点经度"), max_digits=9, decimal_places=6, null=True, blank=True)
    checkin_radius_m = models.PositiveIntegerField(_("签到范围（米）"), null=True, blank=True)
    signout_required = models.BooleanField(
        _("需要签退"),
        default=False,
        db_default=False,
        help_text=_("开启后，党员离开时再次扫码签退，服务时长按签到至签退计算（不超过活动时长）。"),
    )
    status = models.CharField(
        _("状态"), max_length=10, choices=ActivityStatus.choices, default=ActivityStatus.SCHEDULED
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("活动")
        verbose_name_plural = _("活动")
        ordering = ["starts_at", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(ends_at__gt=F("starts_at")),
                name="projects_activity_ends_after_start",
                violation_error_message=_("结束时间必须晚于开始时间。"),
            ),
            models.CheckConstraint(
                condition=Q(capacity__gt=0),
                name="projects_activity_capacity_positive",
                violation_error_message=_("名额必须大于0。"),
            ),
            models.CheckConstraint(
                condition=Q(signup_closes_at__gt=F("signup_opens_at"), signup_closes_at__lte=F("starts_at")),
                name="projects_activity_signup_window",
                violation_error_message=_("报名截止应晚于报名开始，且不晚于活动开始。"),
            ),
            models.CheckConstraint(
                condition=Q(cancel_cutoff_at__lte=F("starts_at")),
                name="projects_activity_cutoff_before_start",
                violation_error_message=_("取消截止不能晚于活动开始。"),
            ),
            # Digits are checked by the service; LENGTH is portable where a REGEXP in a CHECK is not (SQLite).
            models.CheckConstraint(condition=Exact(Length("checkin_code"), 6), name="projects_activity_code_six_chars"),
            models.CheckConstraint(
                condition=Q(status__in=ActivityStatus.values), name="projects_activity_status_valid"
            ),
            # The check-in place is all three values or none of them.
            models.CheckConstraint(
                condition=Q(latitude__isnull=True, longitude__isnull=True, checkin_radius_m__isnull=True)
                | Q(
                    latitude__isnull=False,
                    longitude__isnull=False,
                    checkin_radius_m__isnull=False,
                    latitude__gte=-90,
                    latitude__lte=90,
                    longitude__gte=-180,
                    longitude__lte=180,
                    checkin_radius_m__gt=0,
                ),
                name="projects_activity_checkin_place",
                violation_error_message=_("签到点的纬度、经度和范围须同时填写，且在有效范围内。"),
            ),
            # Regenerating a recurring project's activities finds the ones it made (services.activities_generate).
            models.UniqueConstraint(fields=["project", "starts_at"], name="projects_activity_unique_start"),
        ]
        indexes = [
            # Upcoming activities (/projects/ seats filter, brand pages): status = 'scheduled' AND starts_at > now.
            models.Index(fields=["status", "starts_at"], name="projects_activity_upcoming"),
        ]

    def __str__(self):
        return f"{self.display_title} {format_local(self.starts_at)}"

    @property
    def display_title(self) -> str:
        return self.title or self.project.title

    @property
    def seats_left(self) -> int:
        """Free seats; needs the `confirmed_count` annotation of `projects.selectors` (no query here)."""
        return max(self.capacity - self.confirmed_count, 0)

    def phase(self, now: datetime) -> ActivityPhase:
        """What the activity is at `now`: the one rule behind every status label and sign-up button (the sign-up
        service's own check, `validators.check_activity_open`, agrees: tests/projects/test_phase.py). Sign-up is open
        from `signup_opens_at` (included) to `signup_closes_at` (excluded) for a scheduled activity of a published
        project; the activity is in progress from its start (included) to its end (excluded). Reads `project` and,
        while sign-up is open, the `confirmed_count` annotation (no query)."""
        if self.status == ActivityStatus.CANCELLED:
            return ActivityPhase.CANCELLED
        if now >= self.ends_at:
            return ActivityPhase.ENDED
        if now >= self.starts_at:
            return ActivityPhase.IN_PROGRESS
        if now >= self.signup_closes_at or self.status != ActivityStatus.SCHEDULED:
            return ActivityPhase.CLOSED
        if now < self.signup_opens_at or self.project.status != ProjectStatus.PUBLISHED:
            return ActivityPhase.NOT_OPEN
        return ActivityPhase.OPEN if self.seats_left > 0 else ActivityPhase.WAITLIST

    def phase_changes_at(self, now: datetime) -> datetime | None:
        """The next moment after `now` at which `phase` changes by the clock alone (sign-up opens or closes, the start,
        the end), or None when the clock changes nothing any more. Seats, cancellations and edits change it through
        the services, which announce it; this bounds how long a rendered page stays true (core/public_cache.py)."""
        if self.status == ActivityStatus.CANCELLED:
            return None
        moments = (self.signup_opens_at, self.signup_closes_at, self.starts_at, self.ends_at)
        return min((moment for moment in moments if moment > now), default=None)

    @property
    def has_checkin_place(self) -> bool:
        return self.checkin_radius_m is not None

    @property
    def length_hours(self) -> Decimal:
        """The activity's length in hours, rounded down to 0.01 (the cap of a sign-up's hours)."""
        return (Decimal(int((self.ends_at - self.starts_at).total_seconds())) / 3600).quantize(
            Decimal("0.01"), ROUND_DOWN
        )


class SignUpStatus(models.TextChoices):
    CONFIRMED = "confirmed", _("已报名")
    WAITLISTED = "waitlisted", _("候补")
    CANCELLED = "cancelled", _("已取消")
    LATE_CANCELLED = "late_cancelled", _("逾期取消")
    ATTENDED = "attended", _("已到")
    NO_SHOW = "no_show", _("缺席")


class CheckinPosition(models.TextChoices):
    """Where a member checked in, for an activity with a check-in place (blank: no place set, or not checked in)."""

    INSIDE = "inside", _("在签到范围内")
    # The member's phone reported no position (not allowed, or not available): the check-in is accepted and the
    # attendance sheet shows it, so the organizer can confirm the member was there.
    UNKNOWN = "unknown", _("未提供位置")


class SignUp(models.Model):
    """报名: a member's place in an activity (a team leader's sign-up makes one row per team member, with `team`)."""

    Status = SignUpStatus
    Position = CheckinPosition
    # Set by the attendance sheet (projects.views) on the rows it draws, not columns.
    default_hours: Decimal | None
    posted_mark: str | None
    posted_hours: str | None

    # A member has at most one of these per activity.
    ACTIVE_STATUSES = (Status.CONFIRMED, Status.WAITLISTED, Status.ATTENDED, Status.NO_SHOW)
    # Statuses holding a seat.
    SEAT_STATUSES = (Status.CONFIRMED, Status.ATTENDED, Status.NO_SHOW)

    activity = models.ForeignKey(Activity, verbose_name=_("活动"), on_delete=models.PROTECT, related_name="signups")
    member = models.ForeignKey(Member, verbose_name=_("党员"), on_delete=models.PROTECT, related_name="signups")
    team = models.ForeignKey(
        Team, verbose_name=_("服务队"), null=True, blank=True, on_delete=models.SET_NULL, related_name="signups"
    )
    claim = models.ForeignKey(
        PostClaim, verbose_name=_("岗位认领"), null=True, blank=True, on_delete=models.SET_NULL, related_name="signups"
    )
    status = models.CharField(_("状态"), max_length=15, choices=SignUpStatus.choices)
    waitlist_position = models.PositiveIntegerField(_("候补序号"), null=True, blank=True)
    checked_in_at = models.DateTimeField(_("签到时间"), null=True, blank=True)
    checkin_position = models.CharField(
        _("签到位置"), max_length=10, choices=CheckinPosition.choices, blank=True, default="", db_default=""
    )
    checkin_distance_m = models.PositiveIntegerField(_("签到距离（米）"), null=True, blank=True)
    checked_out_at = models.DateTimeField(_("签退时间"), null=True, blank=True)
    hours = models.DecimalField(_("服务时长（小时）"), max_digits=5, decimal_places=2, null=True, blank=True)
    created_at = models.DateTimeField(_("报名时间"), auto_now_add=True)
    cancelled_at = models.DateTimeField(_("取消时间"), null=True, blank=True)
    marked_at = models.DateTimeField(_("考勤时间"), null=True, blank=True)
    marked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("考勤人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("报名")
        verbose_name_plural = _("报名")
        ordering = ["activity", "created_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["activity", "member"],
                condition=Q(status__in=["confirmed", "waitlisted", "attended", "no_show"]),
                name="projects_signup_one_active",
                violation_error_message=_("您已报名该活动。"),
            ),
            models.UniqueConstraint(
                fields=["activity", "waitlist_position"],
                condition=Q(status="waitlisted"),
                name="projects_signup_unique_waitlist_position",
            ),
            models.CheckConstraint(condition=Q(status__in=SignUpStatus.values), name="projects_signup_status_valid"),
            models.CheckConstraint(
                condition=Q(status="waitlisted", waitlist_position__isnull=False)
                | (~Q(status="waitlisted") & Q(waitlist_position__isnull=True)),
                name="projects_signup_waitlist_has_position",
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["cancelled", "late_cancelled"]) | Q(cancelled_at__isnull=False),
                name="projects_signup_cancelled_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="attended") | Q(hours__gt=0), name="projects_signup_attended_has_hours"
            ),
            models.CheckConstraint(
                condition=Q(hours__isnull=True) | Q(status="attended"), name="projects_signup_hours_only_attended"
            ),
            # A sign-out follows a check-in, never precedes it.
            models.CheckConstraint(
                condition=Q(checked_out_at__isnull=True)
                | Q(checked_in_at__isnull=False, checked_out_at__gte=F("checked_in_at")),
                name="projects_signup_checkout_after_checkin",
            ),
            models.CheckConstraint(
                condition=Q(checkin_position="")
                | Q(checkin_position__in=CheckinPosition.values, checked_in_at__isnull=False),
                name="projects_signup_position_of_checkin",
            ),
            models.CheckConstraint(
                condition=Q(checkin_distance_m__isnull=True) | Q(checkin_position=CheckinPosition.INSIDE),
                name="projects_signup_distance_inside",
            ),
        ]
        indexes = [
            # Seats of an activity: activity = ? AND status IN (…) (every sign-up, the lists' annotations).
            models.Index(fields=["activity", "status"], name="projects_signup_activity"),
            # A member's sign-ups: /me/activities/, the overlap check, the no-show count, the calendar feed.
            models.Index(fields=["member", "status"], name="projects_signup_member"),
            # The activities holding a seat nobody marked (待确认考勤 on the 工作台): the 34,000 confirmed sign-ups of a
            # district read from this index alone, not the 376,000 sign-ups in a parallel scan (29-36 -> 15 ms).
            models.Index(fields=["activity"], condition=Q(status="confirmed"), name="projects_signup_confirmed"),
        ]

    def __str__(self):
        return f"{self.member.name} → {self.activity}"


# --- Self-reports and the calendar feed -------------------------------------------------------------------------


class SelfReportStatus(models.TextChoices):
    PENDING = "pending", _("待审核")
    APPROVED = "approved", _("已通过")
    REJECTED = "rejected", _("未通过")


class SelfReport(models.Model):
    """自主申报: offline service a member reports; the reviewing organization approves it into a ServiceRecord."""

    Status = SelfReportStatus

    member = models.ForeignKey(Member, verbose_name=_("党员"), on_delete=models.PROTECT, related_name="self_reports")
    # Who reviews: the project's organization, or the member's branch when no project is named.
    organization = models.ForeignKey(
        Organization, verbose_name=_("审核组织"), on_delete=models.PROTECT, related_name="self_reports"
    )
    project = models.ForeignKey(
        ServiceProject,
        verbose_name=_("服务项目"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="self_reports",
    )
    started_at = models.DateTimeField(_("开始时间"))
    ended_at = models.DateTimeField(_("结束时间"))
    place = models.CharField(_("服务地点"), max_length=200)
    content = models.TextField(_("服务内容"))
    hours = models.DecimalField(_("服务时长（小时）"), max_digits=5, decimal_places=2)
    status = models.CharField(_("状态"), max_length=10, choices=SelfReportStatus.choices, default="pending")
    reviewed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审核人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("审核时间"), null=True, blank=True)
    review_note = models.CharField(_("审核意见"), max_length=200, blank=True)
    record = models.OneToOneField(
        ServiceRecord,
        verbose_name=_("服务记录"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="self_report",
    )
    created_at = models.DateTimeField(_("申报时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("自主申报")
        verbose_name_plural = _("自主申报")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(ended_at__gt=F("started_at")), name="projects_report_ends_after_start"),
            models.CheckConstraint(condition=Q(hours__gt=0), name="projects_report_hours_positive"),
            models.CheckConstraint(
                condition=Q(status__in=SelfReportStatus.values), name="projects_report_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="approved") | Q(record__isnull=False, reviewed_at__isnull=False),
                name="projects_report_approved_has_record",
            ),
            models.CheckConstraint(
                condition=~Q(status="rejected") | Q(reviewed_at__isnull=False), name="projects_report_rejected_time"
            ),
        ]
        indexes = [
            # The approval queue: organization IN (scope) AND status = 'pending'.
            models.Index(fields=["organization", "status"], name="projects_report_queue"),
        ]

    def __str__(self):
        return f"{self.member.name} {format_local(self.started_at, DATE)} {self.hours}h"


class CalendarFeed(models.Model):
    """The private token of a member's iCalendar feed (/me/calendar/<token>.ics); a new token revokes the old URL."""

    member = models.OneToOneField(
        Member, verbose_name=_("党员"), on_delete=models.CASCADE, related_name="calendar_feed"
    )
    token = models.CharField(_("令牌"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now=True)

    class Meta:
        verbose_name = _("日历订阅")
        verbose_name_plural = _("日历订阅")

    def __str__(self):
        return self.member.name


# --- Feedback after an activity ---------------------------------------------------------------------------------


class ActivitySurvey(models.Model):
    """活动问卷: an attendee's short answer after an activity — satisfaction 1–5 and an optional comment. One per
    sign-up (the attended one); aggregated per project, member, organization and month by `projects.selectors`."""

    RATING_MIN = 1
    RATING_MAX = 5

    signup = models.ForeignKey(SignUp, verbose_name=_("报名"), on_delete=models.PROTECT, related_name="surveys")
    rating = models.PositiveSmallIntegerField(_("满意度"))
    comment = models.CharField(_("意见建议"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("提交时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("活动问卷")
        verbose_name_plural = _("活动问卷")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["signup"],
                name="projects_survey_one_per_signup",
                violation_error_message=_("您已提交过这次活动的问卷。"),
            ),
            models.CheckConstraint(
                condition=Q(rating__gte=1, rating__lte=5),
                name="projects_survey_rating_range",
                violation_error_message=_("满意度应为1到5分。"),
            ),
        ]

    def __str__(self):
        return f"{self.signup} {self.rating}"
