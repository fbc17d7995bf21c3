"""Points, rewards, star ratings and commendations (see DESIGN.md, incentives).

The ledger is append-only: `LedgerEntry` rows are written by `incentives.services` only and never change; a
correction is a new entry (冲正). `PointsBalance` caches each member's sum, is updated in the same transaction as
the entry under a row lock, and its CHECK keeps it from ever going below zero. Every other write also goes
through `incentives.services`.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.history import HistoricalRecords
from core.names import EnglishNamed, localized
from members.models import Member, Organization

MAX_STARS = 5
DEFAULT_HOURS_THRESHOLDS = [100, 300, 600, 1000, 1500]
DEFAULT_POINTS_THRESHOLDS = [500, 1500, 3000, 5000, 8000]
DEFAULT_PUBLICITY_DAYS = 5


def default_hours_thresholds() -> list[int]:
    return list(DEFAULT_HOURS_THRESHOLDS)


# --- Rules ------------------------------------------------------------------------------------------------------


class RuleCode(models.TextChoices):
    SERVICE_HOUR = "service_hour", _("志愿服务（每小时）")
    WISH_FULFILLED = "wish_fulfilled", _("实现微心愿")
    RESIDENT_RATING = "resident_rating", _("居民评价加分（每星）")
    TRAINING_HOUR = "training_hour", _("参加培训（每学时）")
    COMMENDATION = "commendation", _("获得表彰")
    MANUAL = "manual", _("手工调整")


class Rule(models.Model):
    """How many points one unit of something earns. The codes are fixed (other steps award by code); a platform
    admin edits the numbers."""

    Code = RuleCode

    code = models.CharField(_("规则"), max_length=30, choices=Code.choices, unique=True)
    points = models.PositiveIntegerField(_("每单位积分"))
    cap_per_source = models.PositiveIntegerField(
        _("每个来源封顶"),
        null=True,
        blank=True,
        help_text=_("同一来源（如同一场活动）最多给一名党员的积分；留空表示不封顶。"),
    )
    leader_multiplier = models.DecimalField(
        _("负责人倍数"),
        max_digits=4,
        decimal_places=2,
        default=Decimal(1),
        help_text=_("现场负责人等角色的积分倍数，例如 1.5。"),
    )
    min_quantity = models.DecimalField(
        _("起计数量"),
        max_digits=8,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("数量低于此值时不加分，例如居民评价 4 星及以上才加分。"),
    )
    active = models.BooleanField(_("启用"), default=True)
    description = models.CharField(_("说明"), max_length=200, blank=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("积分规则")
        verbose_name_plural = _("积分规则")
        ordering = ["pk"]
        constraints = [
            models.CheckConstraint(condition=Q(code__in=RuleCode.values), name="incentives_rule_code_valid"),
            models.CheckConstraint(condition=Q(leader_multiplier__gt=0), name="incentives_rule_multiplier_positive"),
        ]

    def __str__(self):
        return self.get_code_display()


# --- Ledger -----------------------------------------------------------------------------------------------------


class EntryKind(models.TextChoices):
    AWARD = "award", _("奖励")
    SPEND = "spend", _("使用")
    REVERSAL = "reversal", _("冲正")
    ADJUSTMENT = "adjustment", _("手工调整")
    CORRECTION = "correction", _("更正")
    RECOVERY = "recovery", _("追回")


class AppendOnlyQuerySet(models.QuerySet):
    """Ledger rows are never changed or removed in bulk either."""

    def update(self, **kwargs):
        raise TypeError("ledger entries are append-only")

    def delete(self):
        raise TypeError("ledger entries are append-only")


class LedgerEntry(models.Model):
    """One change of a member's points (积分明细). Written once by `incentives.services`, never updated or deleted."""

    Kind = EntryKind

    member = models.ForeignKey(Member, verbose_name=_("党员"), on_delete=models.PROTECT, related_name="ledger_entries")
    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices)
    points = models.IntegerField(_("积分"))
    # How much this entry changes the points *earned* (star bands, leaderboard): the points of awards and manual
    # adjustments and of their reversals; 0 for spending and its refunds, so spending never lowers a rating.
    earned_points = models.IntegerField(_("计入获得积分"), default=0)
    balance_after = models.IntegerField(_("变动后余额"))
    rule = models.ForeignKey(
        Rule, verbose_name=_("规则"), null=True, blank=True, on_delete=models.PROTECT, related_name="entries"
    )
    quantity = models.DecimalField(_("数量"), max_digits=8, decimal_places=2, null=True, blank=True)
    multiplier = models.DecimalField(_("倍数"), max_digits=4, decimal_places=2, default=Decimal(1))
    # The rule's numbers when the entry was written (points per unit, cap per source): a later change of the rule
    # leaves this award as it was, and a correction of the same service is computed on the same terms.
    rule_points = models.PositiveIntegerField(_("规则分值"), null=True, blank=True)
    rule_cap = models.PositiveIntegerField(_("规则封顶"), null=True, blank=True)
    # What earned or used the points, e.g. "activity:12", "wish:7", "redemption:3"; the cap of a rule applies per value.
    source_ref = models.CharField(_("来源"), max_length=100, blank=True)
    reverses = models.OneToOneField(
        "self",
        verbose_name=_("冲正的明细"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reversal",
    )
    # PROTECT: an account that acted on the ledger stays (deactivate it instead), so every entry stays attributed
    # and no UPDATE ever touches a row.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("经办人"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    note = models.CharField(_("备注"), max_length=200, blank=True)
    idempotency_key = models.CharField(_("幂等键"), max_length=150, unique=True)
    created_at = models.DateTimeField(_("时间"), default=timezone.now)

    objects = AppendOnlyQuerySet.as_manager()

    class Meta:
        verbose_name = _("积分明细")
        verbose_name_plural = _("积分明细")
        ordering = ["-created_at", "-pk"]
        constraints = [
            # A reversal or correction whose points were already spent moves only the earned points (the balance
            # never goes below zero; see services._append), so one of the two is never 0.
            models.CheckConstraint(
                condition=~Q(points=0) | ~Q(earned_points=0), name="incentives_entry_points_nonzero"
            ),
            models.CheckConstraint(
                condition=~Q(kind="correction") | Q(rule__isnull=False, reverses__isnull=True),
                name="incentives_entry_correction_rule",
            ),
            # Taking back points that a reversal or correction could not (services._recover): never earned ones.
            models.CheckConstraint(
                condition=~Q(kind="recovery") | Q(points__lt=0, earned_points=0), name="incentives_entry_recovery"
            ),
            models.CheckConstraint(condition=Q(kind__in=EntryKind.values), name="incentives_entry_kind_valid"),
            models.CheckConstraint(condition=Q(balance_after__gte=0), name="incentives_entry_balance_after_gte_0"),
            models.CheckConstraint(
                condition=~Q(kind="award") | Q(points__gt=0, rule__isnull=False), name="incentives_entry_award_rule"
            ),
            models.CheckConstraint(
                condition=~Q(kind="spend") | Q(points__lt=0, earned_points=0), name="incentives_entry_spend_negative"
            ),
            models.CheckConstraint(
                condition=Q(kind="reversal", reverses__isnull=False) | Q(~Q(kind="reversal"), reverses__isnull=True),
                name="incentives_entry_reversal_has_target",
            ),
            models.CheckConstraint(
                condition=~Q(kind="adjustment") | ~Q(note=""), name="incentives_entry_adjustment_has_reason"
            ),
            models.CheckConstraint(condition=~Q(idempotency_key=""), name="incentives_entry_key_not_empty"),
        ]
        indexes = [
            # A member's statement, newest first (/me/points/, the admin filtered by member).
            models.Index(fields=["member", "-created_at", "-id"], name="incentives_entry_statement"),
            # The per-source cap: what a member already got from one rule and one source (award()).
            models.Index(fields=["member", "rule", "source_ref"], name="incentives_entry_cap"),
            # Points earned in a period across an organization (leaderboard, points-band ratings).
            models.Index(fields=["created_at"], name="incentives_entry_created"),
        ]

    def __str__(self):
        return f"{self.member.name} {self.points:+d}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise TypeError("ledger entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise TypeError("ledger entries are append-only")


class PointsBalance(models.Model):
    """The cached sum of a member's ledger; its row is the lock every ledger write takes first."""

    member = models.OneToOneField(
        Member, verbose_name=_("党员"), primary_key=True, on_delete=models.PROTECT, related_name="points_balance"
    )
    balance = models.IntegerField(_("积分余额"), default=0)
    earned_total = models.IntegerField(_("累计获得"), default=0)
    # Points a reversal or correction could not take back because they had been spent: the next points that come
    # in pay them back first (services._append, _recover). While any are owed the balance is 0.
    debt = models.IntegerField(_("待追回积分"), default=0, db_default=0)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("积分余额")
        verbose_name_plural = _("积分余额")
        ordering = ["-balance", "member"]
        constraints = [
            models.CheckConstraint(
                condition=Q(balance__gte=0),
                name="incentives_balance_not_negative",
                violation_error_message=_("积分余额不能为负数。"),
            ),
            # Only earned points come in, so what is left can never exceed what was earned: balance = earned −
            # spent while nothing is owed. (Earned points can drop below zero — a penalty, then the void of a record
            # whose points were spent — and the balance is then 0 with points owed.)
            models.CheckConstraint(
                condition=Q(balance__lte=F("earned_total")) | Q(balance=0), name="incentives_balance_within_earned"
            ),
            models.CheckConstraint(condition=Q(debt__gte=0), name="incentives_balance_debt_not_negative"),
            models.CheckConstraint(condition=Q(debt=0) | Q(balance=0), name="incentives_balance_debt_when_empty"),
        ]

    def __str__(self):
        return f"{self.member.name}：{self.balance}"


class IncentiveProfile(models.Model):
    """A member's own choices about incentives (kept here so the members app need not know about leaderboards)."""

    member = models.OneToOneField(
        Member, verbose_name=_("党员"), primary_key=True, on_delete=models.CASCADE, related_name="incentive_profile"
    )
    leaderboard_opt_out = models.BooleanField(_("不参加积分排行"), default=False)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("积分偏好")
        verbose_name_plural = _("积分偏好")

    def __str__(self):
        return self.member.name


# --- Redemption -------------------------------------------------------------------------------------------------


class ItemKind(models.TextChoices):
    SERVICE = "service", _("服务")
    GOODS = "goods", _("物品")
    BENEFIT = "benefit", _("政策优惠")


class CatalogueItem(EnglishNamed, models.Model):
    """An entry of the redemption catalogue (兑换目录). Stock only changes through the services' conditional
    UPDATEs, so it never goes below zero even when many members redeem the last one at once."""

    Kind = ItemKind

    kind = models.CharField(_("类别"), max_length=10, choices=Kind.choices, default=Kind.SERVICE)
    name = models.CharField(_("名称"), max_length=100)
    name_en = models.CharField(
        _("英文名称"), max_length=200, blank=True, help_text=_("英文界面显示的名称；留空时显示中文名称。")
    )
    description = models.TextField(_("说明"), blank=True)
    description_en = models.TextField(
        _("英文说明"), blank=True, help_text=_("英文界面显示的说明；留空时显示中文说明。")
    )
    pickup_place = models.CharField(_("兑换地点"), max_length=200, blank=True)
    points_cost = models.PositiveIntegerField(_("所需积分"))
    stock = models.PositiveIntegerField(_("库存"), default=0)
    per_member_limit = models.PositiveSmallIntegerField(
        _("每人限兑"), null=True, blank=True, default=1, help_text=_("留空表示不限。")
    )
    opens_at = models.DateTimeField(_("开始兑换时间"), null=True, blank=True)
    closes_at = models.DateTimeField(_("截止兑换时间"), null=True, blank=True)
    min_star_level = models.PositiveSmallIntegerField(
        _("最低星级"), default=0, help_text=_("政策优惠需要的最低星级（1–5）；其他类别可为 0。")
    )
    organization = models.ForeignKey(
        Organization,
        verbose_name=_("适用组织"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="catalogue_items",
        help_text=_("只对该组织及其下级组织的党员开放；留空表示全平台。"),
    )
    active = models.BooleanField(_("上架"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("兑换项目")
        verbose_name_plural = _("兑换目录")
        ordering = ["points_cost", "name"]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=ItemKind.values), name="incentives_item_kind_valid"),
            models.CheckConstraint(condition=Q(points_cost__gt=0), name="incentives_item_cost_positive"),
            models.CheckConstraint(
                condition=Q(stock__gte=0), name="incentives_item_stock_not_negative"
            ),  # explicit: PositiveIntegerField's own check is backend-specific
            models.CheckConstraint(
                condition=Q(min_star_level__gte=0, min_star_level__lte=MAX_STARS), name="incentives_item_stars_0_5"
            ),
            models.CheckConstraint(
                condition=~Q(kind="benefit") | Q(min_star_level__gte=1),
                name="incentives_item_benefit_needs_stars",
                violation_error_message=_("政策优惠须设置最低星级（1–5）。"),
            ),
            models.CheckConstraint(
                condition=Q(per_member_limit__isnull=True) | Q(per_member_limit__gte=1),
                name="incentives_item_limit_positive",
            ),
            models.CheckConstraint(
                condition=Q(opens_at__isnull=True) | Q(closes_at__isnull=True) | Q(closes_at__gt=F("opens_at")),
                name="incentives_item_closes_after_opens",
                violation_error_message=_("截止兑换时间必须晚于开始兑换时间。"),
            ),
            models.UniqueConstraint(fields=["organization", "name"], name="incentives_item_unique_name"),
        ]

    def __str__(self):
        return self.display_name

    @property
    def display_description(self) -> str:
        return localized(self.description, self.description_en)

    def is_open(self, now=None) -> bool:
        now = now or timezone.now()
        return (
            self.active
            and (self.opens_at is None or self.opens_at <= now)
            and (self.closes_at is None or now < self.closes_at)
        )


class RedemptionStatus(models.TextChoices):
    REQUESTED = "requested", _("待审核")
    APPROVED = "approved", _("待领取")
    FULFILLED = "fulfilled", _("已领取")
    CANCELLED = "cancelled", _("已取消")


class Redemption(models.Model):
    """积分兑换: points are held (a spend entry) when the member asks; a cancellation refunds them (a reversal)."""

    Status = RedemptionStatus

    OPEN_STATUSES = (Status.REQUESTED, Status.APPROVED)

    member = models.ForeignKey(Member, verbose_name=_("党员"), on_delete=models.PROTECT, related_name="redemptions")
    item = models.ForeignKey(
        CatalogueItem, verbose_name=_("兑换项目"), on_delete=models.PROTECT, related_name="redemptions"
    )
    points = models.PositiveIntegerField(_("积分"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.REQUESTED)
    spend_entry = models.OneToOneField(
        LedgerEntry, verbose_name=_("扣分明细"), on_delete=models.PROTECT, related_name="redemption"
    )
    pickup_code = models.CharField(_("提货码"), max_length=12, blank=True)
    requested_at = models.DateTimeField(_("申请时间"), default=timezone.now)
    approved_at = models.DateTimeField(_("批准时间"), null=True, blank=True)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("批准人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    fulfilled_at = models.DateTimeField(_("领取时间"), null=True, blank=True)
    fulfilled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("发放人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    cancelled_at = models.DateTimeField(_("取消时间"), null=True, blank=True)
    cancelled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("取消人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    cancel_reason = models.CharField(_("取消原因"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("积分兑换")
        verbose_name_plural = _("积分兑换")
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=RedemptionStatus.values), name="incentives_redemption_status"
            ),
            models.CheckConstraint(condition=Q(points__gt=0), name="incentives_redemption_points_positive"),
            models.CheckConstraint(
                condition=~Q(status__in=["approved", "fulfilled"])
                | (~Q(pickup_code="") & Q(approved_at__isnull=False)),
                name="incentives_redemption_approved_has_code",
            ),
            models.CheckConstraint(
                condition=~Q(status="fulfilled") | Q(fulfilled_at__isnull=False),
                name="incentives_redemption_fulfilled_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="cancelled") | Q(cancelled_at__isnull=False),
                name="incentives_redemption_cancelled_time",
            ),
            models.UniqueConstraint(
                fields=["pickup_code"], condition=~Q(pickup_code=""), name="incentives_redemption_unique_code"
            ),
        ]
        indexes = [
            # The per-member limit and "my redemptions" (/rewards/, /me/points/).
            models.Index(fields=["member", "item", "status"], name="incentives_redemption_member"),
            # The secretaries' queue: requested redemptions, oldest first.
            models.Index(fields=["status", "requested_at"], name="incentives_redemption_queue"),
        ]

    def __str__(self):
        return f"{self.member.name}：{self.item.name}"


# --- Star ratings -----------------------------------------------------------------------------------------------


class StarBasis(models.TextChoices):
    HOURS = "hours", _("累计服务时长")
    POINTS = "points", _("年度获得积分")


class StarScheme(models.Model):
    """评星定级 rules of an organization and, unless they have their own, of the organizations below it."""

    Basis = StarBasis

    organization = models.OneToOneField(
        Organization, verbose_name=_("党组织"), on_delete=models.CASCADE, related_name="star_scheme"
    )
    basis = models.CharField(_("评定依据"), max_length=10, choices=Basis.choices, default=Basis.HOURS)
    thresholds = models.JSONField(
        _("一至五星门槛"),
        default=default_hours_thresholds,
        help_text=_("达到第 n 个数值即为 n 星（时长单位为小时，积分为期间内获得的积分）。"),
    )
    publicity_days = models.PositiveSmallIntegerField(_("公示天数"), default=DEFAULT_PUBLICITY_DAYS)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("星级评定方案")
        verbose_name_plural = _("星级评定方案")
        ordering = ["organization__path"]
        constraints = [
            models.CheckConstraint(condition=Q(basis__in=StarBasis.values), name="incentives_scheme_basis_valid"),
            models.CheckConstraint(
                condition=Q(publicity_days__gte=1, publicity_days__lte=30), name="incentives_scheme_publicity_1_30"
            ),
        ]

    def __str__(self):
        return f"{self.organization.name}：{self.get_basis_display()}"


class RatingStatus(models.TextChoices):
    DRAFT = "draft", _("草稿")
    PUBLICITY = "publicity", _("公示中")
    FINAL = "final", _("已定级")


class RatingRun(models.Model):
    """One rating of an organization's members for one period: draft → 公示 → final."""

    Status = RatingStatus

    organization = models.ForeignKey(
        Organization, verbose_name=_("党组织"), on_delete=models.PROTECT, related_name="rating_runs"
    )
    period_start = models.DateField(_("评定期开始"))
    period_end = models.DateField(_("评定期结束"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    publicity_ends_on = models.DateField(_("公示截止日期"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("创建人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    computed_at = models.DateTimeField(_("计算时间"), null=True, blank=True)
    published_at = models.DateTimeField(_("公示时间"), null=True, blank=True)
    finalized_at = models.DateTimeField(_("定级时间"), null=True, blank=True)
    finalized_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("定级人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("星级评定")
        verbose_name_plural = _("星级评定")
        ordering = ["-period_end", "organization__path"]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "period_start", "period_end"],
                name="incentives_run_unique_period",
                violation_error_message=_("该组织这一评定期已有评定。"),
            ),
            models.CheckConstraint(condition=Q(status__in=RatingStatus.values), name="incentives_run_status_valid"),
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")),
                name="incentives_run_period_order",
                violation_error_message=_("评定期结束日期不能早于开始日期。"),
            ),
            models.CheckConstraint(
                condition=Q(status="draft") | Q(publicity_ends_on__isnull=False, published_at__isnull=False),
                name="incentives_run_published_has_dates",
            ),
            models.CheckConstraint(
                condition=~Q(status="final") | Q(finalized_at__isnull=False), name="incentives_run_final_has_time"
            ),
        ]

    def __str__(self):
        return _("%(organization)s %(start)s 至 %(end)s") % {
            "organization": self.organization.name,
            "start": self.period_start.isoformat(),
            "end": self.period_end.isoformat(),
        }


class StarRating(models.Model):
    """A member's stars in one run, with the value and the thresholds they came from."""

    Status = RatingStatus
    can_object: bool  # set by the 公示 page (incentives.views) on the member's own rating, not a column

    run = models.ForeignKey(RatingRun, verbose_name=_("星级评定"), on_delete=models.CASCADE, related_name="ratings")
    member = models.ForeignKey(Member, verbose_name=_("党员"), on_delete=models.PROTECT, related_name="star_ratings")
    basis = models.CharField(_("评定依据"), max_length=10, choices=StarBasis.choices)
    thresholds = models.JSONField(_("门槛"), default=list)
    basis_value = models.DecimalField(_("依据数值"), max_digits=10, decimal_places=2)
    computed_stars = models.PositiveSmallIntegerField(_("计算星级"))
    stars = models.PositiveSmallIntegerField(_("星级"))
    status = models.CharField(_("状态"), max_length=10, choices=RatingStatus.choices, default=RatingStatus.DRAFT)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("党员星级")
        verbose_name_plural = _("党员星级")
        ordering = ["-run__period_end", "member"]
        constraints = [
            models.UniqueConstraint(fields=["run", "member"], name="incentives_rating_unique_member"),
            models.CheckConstraint(
                condition=Q(stars__gte=0, stars__lte=MAX_STARS, computed_stars__gte=0, computed_stars__lte=MAX_STARS),
                name="incentives_rating_stars_0_5",
            ),
            models.CheckConstraint(condition=Q(status__in=RatingStatus.values), name="incentives_rating_status"),
        ]
        indexes = [
            # A member's current stars: their latest final rating (selectors.current_stars).
            models.Index(fields=["member", "status"], name="incentives_rating_member"),
        ]

    def __str__(self):
        return f"{self.member.name} ★{self.stars}"


class ObjectionOutcome(models.TextChoices):
    PENDING = "pending", _("待答复")
    CHANGED = "changed", _("已调整星级")
    MAINTAINED = "maintained", _("维持原评定")


class Objection(models.Model):
    """异议 filed by a member about their rating during the 公示 period, answered by the secretary."""

    Outcome = ObjectionOutcome

    rating = models.ForeignKey(
        StarRating, verbose_name=_("党员星级"), on_delete=models.CASCADE, related_name="objections"
    )
    member = models.ForeignKey(Member, verbose_name=_("党员"), on_delete=models.PROTECT, related_name="objections")
    text = models.TextField(_("异议内容"), max_length=1000)
    filed_at = models.DateTimeField(_("提出时间"), default=timezone.now)
    outcome = models.CharField(_("处理结果"), max_length=12, choices=Outcome.choices, default=Outcome.PENDING)
    answer = models.TextField(_("答复"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("答复人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    answered_at = models.DateTimeField(_("答复时间"), null=True, blank=True)
    stars_before = models.PositiveSmallIntegerField(_("原星级"))
    stars_after = models.PositiveSmallIntegerField(_("答复后星级"), null=True, blank=True)

    class Meta:
        verbose_name = _("星级异议")
        verbose_name_plural = _("星级异议")
        ordering = ["-filed_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["rating"],
                condition=Q(outcome="pending"),
                name="incentives_objection_one_pending",
                violation_error_message=_("已有一条待答复的异议。"),
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=ObjectionOutcome.values), name="incentives_objection_outcome"
            ),
            models.CheckConstraint(
                condition=Q(outcome="pending")
                | (Q(answered_at__isnull=False, stars_after__isnull=False) & ~Q(answer="")),
                name="incentives_objection_answered",
            ),
        ]

    def __str__(self):
        return _("%(name)s 的异议") % {"name": self.member.name}


# --- Commendations ----------------------------------------------------------------------------------------------


class CommendationStatus(models.TextChoices):
    NOMINATED = "nominated", _("已提名")
    APPROVED = "approved", _("已批准")
    DECLINED = "declined", _("未批准")


class Commendation(models.Model):
    """表彰先进: nominated by a secretary, approved by the organization above, shown on /exemplars/ only while it is
    published and the member has given their own, separate consent (`member_consented_at`)."""

    Status = CommendationStatus

    member = models.ForeignKey(Member, verbose_name=_("党员"), on_delete=models.PROTECT, related_name="commendations")
    organization = models.ForeignKey(
        Organization,
        verbose_name=_("推荐组织"),
        on_delete=models.PROTECT,
        related_name="commendations",
        help_text=_("提出推荐的党组织；由它的上级组织审批。"),
    )
    title = models.CharField(_("表彰名称"), max_length=100)
    citation = models.TextField(_("先进事迹"), max_length=2000)
    awarded_on = models.DateField(_("表彰日期"), default=timezone.localdate)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.NOMINATED)
    nominated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("推荐人"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    nominated_at = models.DateTimeField(_("推荐时间"), default=timezone.now)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审批人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    decision_note = models.CharField(_("审批意见"), max_length=200, blank=True)
    published = models.BooleanField(_("在先进典型页面发布"), default=False)
    member_consented_at = models.DateTimeField(
        _("本人同意公开时间"), null=True, blank=True, help_text=_("党员本人同意在先进典型页面展示的时间；撤回后为空。")
    )

    class Meta:
        verbose_name = _("表彰")
        verbose_name_plural = _("表彰")
        ordering = ["-awarded_on", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=CommendationStatus.values), name="incentives_comm_status"),
            models.CheckConstraint(
                condition=Q(status="nominated") | Q(decided_at__isnull=False), name="incentives_comm_decided_time"
            ),
            models.CheckConstraint(
                condition=Q(published=False) | Q(status="approved"), name="incentives_comm_published_approved"
            ),
        ]
        indexes = [
            # The public exemplars page: approved, published and consented, newest first.
            models.Index(
                fields=["-awarded_on"],
                condition=Q(status="approved", published=True, member_consented_at__isnull=False),
                name="incentives_comm_public",
            ),
        ]

    def __str__(self):
        return f"{self.member.name}：{self.title}"
