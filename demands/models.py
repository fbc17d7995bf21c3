"""Residents' needs and members' offers (see DESIGN.md, demands): 微心愿, 供给清单, households and 结对帮扶.

A `MicroWish` moves through its states only through `demands.services`, which takes the wish's row lock and writes
a `WishEvent` for every transition. The constraints below keep the columns of each state consistent, so a bug or
a race cannot store, say, a claimed wish without its claimer or a rating outside 1–5. A resident's name and phone
are encrypted; `phone_hash` (a keyed HMAC) serves rate limits and blocking without decrypting anything.
"""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Length
from django.db.models.lookups import GreaterThanOrEqual
from django.utils.translation import gettext_lazy as _

from core.crypto import EncryptedTextField, mask_phone
from core.names import EnglishNamed
from core.times import DATE, format_local
from members.models import Community, Grid, Member, ServiceRecord, Tag, Team

# The version of the consent text on the public form and the privacy notice. Change it whenever that text
# changes: each wish keeps the version its resident agreed to.
CONSENT_VERSION = "2025-1"

# Unambiguous characters for codes a resident reads aloud or types on a phone: no 0/O, 1/I/L.
CODE_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"
TRACKING_CODE_LENGTH = 10
MAX_PHOTOS = 3


def public_person_name(name: str, *, consent: bool) -> str:
    """How a resident appears on public pages: the surname and “**” unless they consented to be named."""
    if not name:
        return ""
    return name if consent else f"{name[0]}**"


class WishCategory(EnglishNamed, models.Model):
    """An entry of the admin-editable list of wish categories (助老, 助残, …)."""

    name = models.CharField(_("名称"), max_length=30, unique=True)
    name_en = models.CharField(
        _("英文名称"), max_length=60, blank=True, help_text=_("英文界面显示的名称；留空时显示中文名称。")
    )
    order = models.PositiveSmallIntegerField(_("排序"), default=0)
    active = models.BooleanField(_("启用"), default=True, help_text=_("停用后，居民提交心愿时不再可选。"))
    tags = models.ManyToManyField(
        Tag,
        verbose_name=_("相关特长/兴趣"),
        blank=True,
        related_name="wish_categories",
        help_text=_("推荐认领人时，具有这些特长或兴趣的党员排在前面。"),
    )

    class Meta:
        verbose_name = _("心愿类别")
        verbose_name_plural = _("心愿类别")
        ordering = ["order", "name"]

    def __str__(self):
        return self.display_name


class TargetGroup(models.TextChoices):
    GENERAL = "general", _("一般居民")
    UNEMPLOYED = "unemployed", _("下岗失业人员")
    LOW_INCOME = "low_income", _("特困低保家庭")
    DISABLED = "disabled", _("残障人士")
    EMPTY_NEST = "empty_nest", _("空巢老人")
    LEFT_BEHIND_CHILDREN = "left_behind_children", _("留守儿童")


class WishState(models.TextChoices):
    SUBMITTED = "submitted", _("待核实")
    VERIFIED = "verified", _("已核实")
    PUBLISHED = "published", _("已发布")
    CLAIMED = "claimed", _("已认领")
    FULFILLED = "fulfilled", _("已实现")
    CONFIRMED = "confirmed", _("居民已确认")
    CLOSED = "closed", _("已办结")
    REJECTED = "rejected", _("不予受理")
    WITHDRAWN = "withdrawn", _("已撤回")
    EXPIRED = "expired", _("已过期")


class ServiceOffer(models.Model):
    """供给清单: what a member (or a team through its leader) offers residents; 居民点单 addresses a wish to it."""

    member = models.ForeignKey(
        Member, verbose_name=_("提供服务的党员"), on_delete=models.CASCADE, related_name="service_offers"
    )
    team = models.ForeignKey(
        Team,
        verbose_name=_("服务队"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="service_offers",
        help_text=_("以服务队名义提供时选择（须为队长）。"),
    )
    title = models.CharField(_("服务内容"), max_length=60)
    category = models.ForeignKey(
        WishCategory, verbose_name=_("类别"), on_delete=models.PROTECT, related_name="service_offers"
    )
    description = models.TextField(_("说明"), max_length=500, blank=True)
    community = models.ForeignKey(
        Community,
        verbose_name=_("服务范围（社区）"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="service_offers",
        help_text=_("留空表示不限社区。"),
    )
    available_time = models.CharField(_("服务时间"), max_length=100, blank=True)
    active = models.BooleanField(_("接受点单"), default=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("服务清单（供给）")
        verbose_name_plural = _("服务清单（供给）")
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The public list: active offers by category (/offers/).
            models.Index(fields=["active", "category"], name="demands_offer_active_category"),
        ]

    def __str__(self):
        return self.title

    @property
    def provider_public_name(self) -> str:
        return self.team.name if self.team is not None else self.member.public_name


class MicroWish(models.Model):
    """微心愿: a resident's small, concrete need, verified by the community before it is published."""

    State = WishState
    TargetGroup = TargetGroup

    # States in which a member holds the wish (claimed_by is set exactly then).
    HELD_STATES = (State.CLAIMED, State.FULFILLED, State.CONFIRMED, State.CLOSED)
    # States the resident may withdraw from: nobody has claimed the wish yet.
    WITHDRAWABLE_STATES = (State.SUBMITTED, State.VERIFIED, State.PUBLISHED, State.EXPIRED)
    # States shown on public pages (the wall lists only published ones).
    PUBLIC_STATES = (State.PUBLISHED, State.CLAIMED, State.FULFILLED, State.CONFIRMED, State.CLOSED)
    # Final states: contact data of such wishes is purged after the retention period.
    FINAL_STATES = (State.CLOSED, State.REJECTED, State.WITHDRAWN)

    tracking_code = models.CharField(_("查询码"), max_length=16, unique=True, editable=False)
    state = models.CharField(_("状态"), max_length=12, choices=State.choices, default=State.SUBMITTED)
    category = models.ForeignKey(WishCategory, verbose_name=_("类别"), on_delete=models.PROTECT, related_name="wishes")
    # What the resident wrote; kept as written. The wall shows the public_* copy the secretary checked.
    title = models.CharField(_("心愿标题"), max_length=60)
    description = models.TextField(_("心愿内容"), max_length=1000)
    public_title = models.CharField(_("公开标题"), max_length=60)
    public_description = models.TextField(
        _("公开内容"), max_length=1000, help_text=_("心愿墙上显示的内容，不得包含姓名、电话、门牌号等个人信息。")
    )
    community = models.ForeignKey(
        Community, verbose_name=_("社区（村）"), on_delete=models.PROTECT, related_name="wishes"
    )
    grid = models.ForeignKey(
        Grid, verbose_name=_("网格"), null=True, blank=True, on_delete=models.SET_NULL, related_name="wishes"
    )
    target_group = models.CharField(
        _("服务对象"), max_length=24, choices=TargetGroup.choices, default=TargetGroup.GENERAL
    )
    preferred_time = models.CharField(_("希望的时间"), max_length=100, blank=True)

    contact_name = EncryptedTextField(_("联系人"), blank=True)
    contact_phone = EncryptedTextField(_("联系电话"), blank=True)
    # blind_index(normalised mobile): rate limits per phone and blocked numbers, without decrypting.
    phone_hash = models.CharField(max_length=64, blank=True, editable=False)
    consent_processing_at = models.DateTimeField(_("同意处理个人信息时间"))
    consent_version = models.CharField(_("同意的说明版本"), max_length=20)
    consent_display = models.BooleanField(_("同意公开显示姓名"), default=False)
    consent_display_at = models.DateTimeField(_("同意公开显示时间"), null=True, blank=True)
    contact_purged_at = models.DateTimeField(_("联系方式清除时间"), null=True, blank=True)

    # PROTECT: an offer that received orders is paused, not deleted (a waiting order needs its offer).
    offer = models.ForeignKey(
        ServiceOffer,
        verbose_name=_("点单的服务"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="wishes",
    )
    # True while a published wish waits for the offering member's answer (居民点单): it is not on the wall.
    offer_pending = models.BooleanField(_("等待服务提供者答复"), default=False)

    verified_at = models.DateTimeField(_("核实时间"), null=True, blank=True)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("核实人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    verification_note = models.TextField(_("核实情况"), blank=True, help_text=_("内部记录，不向居民和公众显示。"))
    published_at = models.DateTimeField(_("发布时间"), null=True, blank=True)
    claim_deadline = models.DateField(_("认领截止日期"), null=True, blank=True)
    reject_reason = models.CharField(_("不予受理的原因"), max_length=200, blank=True)

    claimed_by = models.ForeignKey(
        Member, verbose_name=_("认领党员"), null=True, blank=True, on_delete=models.PROTECT, related_name="wishes"
    )
    claimed_team = models.ForeignKey(
        Team, verbose_name=_("认领服务队"), null=True, blank=True, on_delete=models.SET_NULL, related_name="wishes"
    )
    claimed_at = models.DateTimeField(_("认领时间"), null=True, blank=True)

    fulfilled_at = models.DateTimeField(_("实现时间"), null=True, blank=True)
    fulfilment_note = models.TextField(_("实现情况"), blank=True)
    service_started_at = models.DateTimeField(_("服务开始时间"), null=True, blank=True)
    service_ended_at = models.DateTimeField(_("服务结束时间"), null=True, blank=True)
    service_hours = models.DecimalField(_("服务时长（小时）"), max_digits=5, decimal_places=2, null=True, blank=True)
    # sha256 of the one-click feedback link's token; the token itself is only in the resident's SMS.
    feedback_token_hash = models.CharField(max_length=64, blank=True, editable=False)

    rating = models.PositiveSmallIntegerField(_("居民评价"), null=True, blank=True, help_text=_("1–5 星"))
    rating_comment = models.TextField(_("评价意见"), max_length=500, blank=True)
    confirmed_at = models.DateTimeField(_("居民确认时间"), null=True, blank=True)
    closed_at = models.DateTimeField(_("办结时间"), null=True, blank=True)
    service_record = models.ForeignKey(
        ServiceRecord,
        verbose_name=_("志愿服务记录"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    service_confirmed_at = models.DateTimeField(_("服务确认时间"), null=True, blank=True)
    service_confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("服务确认人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    created_at = models.DateTimeField(_("提交时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("微心愿")
        verbose_name_plural = _("微心愿")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(state__in=WishState.values), name="demands_wish_state_valid"),
            models.CheckConstraint(
                condition=Q(target_group__in=TargetGroup.values), name="demands_wish_target_group_valid"
            ),
            models.CheckConstraint(
                condition=GreaterThanOrEqual(Length("tracking_code"), TRACKING_CODE_LENGTH),
                name="demands_wish_tracking_code_length",
            ),
            # A member holds the wish exactly in the states after a claim.
            models.CheckConstraint(
                condition=Q(state__in=["claimed", "fulfilled", "confirmed", "closed"], claimed_by__isnull=False)
                | (~Q(state__in=["claimed", "fulfilled", "confirmed", "closed"]) & Q(claimed_by__isnull=True)),
                name="demands_wish_claimer_iff_held",
            ),
            models.CheckConstraint(
                condition=Q(claimed_team__isnull=True) | Q(claimed_by__isnull=False),
                name="demands_wish_team_has_claimer",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["claimed", "fulfilled", "confirmed", "closed"], claimed_at__isnull=False)
                | ~Q(state__in=["claimed", "fulfilled", "confirmed", "closed"]),
                name="demands_wish_claim_has_time",
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(rating__gte=1, rating__lte=5),
                name="demands_wish_rating_1_5",
                violation_error_message=_("评价应为1到5星。"),
            ),
            models.CheckConstraint(
                condition=~Q(state="confirmed") | Q(rating__isnull=False, confirmed_at__isnull=False),
                name="demands_wish_confirmed_has_rating",
            ),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | Q(state__in=["confirmed", "closed"]),
                name="demands_wish_rating_after_fulfilment",
            ),
            models.CheckConstraint(
                condition=Q(state__in=["fulfilled", "confirmed", "closed"], fulfilled_at__isnull=False)
                | (~Q(state__in=["fulfilled", "confirmed", "closed"]) & Q(fulfilled_at__isnull=True)),
                name="demands_wish_fulfilled_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(state="closed") | Q(closed_at__isnull=False), name="demands_wish_closed_has_time"
            ),
            models.CheckConstraint(
                condition=~Q(state="rejected") | ~Q(reject_reason=""), name="demands_wish_rejected_has_reason"
            ),
            models.CheckConstraint(
                condition=~Q(state="published") | Q(published_at__isnull=False, claim_deadline__isnull=False),
                name="demands_wish_published_has_deadline",
            ),
            models.CheckConstraint(
                condition=Q(offer_pending=False) | Q(state="published", offer__isnull=False),
                name="demands_wish_offer_pending_published",
            ),
            models.CheckConstraint(
                condition=Q(consent_display=False) | Q(consent_display_at__isnull=False),
                name="demands_wish_display_consent_has_time",
            ),
            # The phone and its hash are stored and purged together.
            models.CheckConstraint(
                condition=Q(contact_phone="", phone_hash="") | (~Q(contact_phone="") & ~Q(phone_hash="")),
                name="demands_wish_phone_with_hash",
            ),
            models.CheckConstraint(
                condition=Q(service_hours__isnull=True) | Q(service_hours__gt=0),
                name="demands_wish_service_hours_positive",
            ),
            models.CheckConstraint(
                condition=Q(service_started_at__isnull=True)
                | Q(service_ended_at__isnull=True)
                | Q(service_ended_at__gt=F("service_started_at")),
                name="demands_wish_service_ends_after_start",
            ),
            models.CheckConstraint(
                condition=Q(service_confirmed_at__isnull=True) | Q(state="closed"),
                name="demands_wish_service_confirmed_closed",
            ),
            models.UniqueConstraint(
                fields=["feedback_token_hash"],
                condition=~Q(feedback_token_hash=""),
                name="demands_wish_unique_feedback_token",
            ),
        ]
        indexes = [
            # The wall and the review queue: wishes of some communities in a state (newest first).
            models.Index(fields=["state", "community"], name="demands_wish_state_community"),
            # The wall's page (newest first), whole or of one community, and its count, read from the index: sorting
            # every published wish took 14 of the uncached wall's 20 ms of queries on the district's 200,000 wishes.
            models.Index(
                F("published_at").desc(),
                F("id").desc(),
                condition=Q(state="published", offer_pending=False),
                name="demands_wish_wall",
            ),
            models.Index(
                "community",
                F("published_at").desc(),
                F("id").desc(),
                condition=Q(state="published", offer_pending=False),
                name="demands_wish_wall_community",
            ),
            # Expiry: published wishes whose claim deadline has passed (wishes_expire_overdue).
            models.Index(fields=["state", "claim_deadline"], name="demands_wish_state_deadline"),
            # A member's open claims (/wishes/mine/, the open-claims limit, matching load).
            models.Index(fields=["claimed_by", "state"], name="demands_wish_claimer_state"),
            # Rate limits per phone and blocked numbers.
            models.Index(fields=["phone_hash"], name="demands_wish_phone_hash"),
            # The 待确认服务 count (review_counts): closed wishes the resident has neither confirmed nor rated, a
            # fifth of the closed ones, found without reading the other 120,000 of a district.
            models.Index(
                fields=["community"],
                condition=Q(state="closed", service_confirmed_at__isnull=True, rating__isnull=True),
                name="demands_wish_unconfirmed",
            ),
        ]

    def __str__(self):
        return f"{self.tracking_code} {self.public_title}"

    @property
    def contact_public_name(self) -> str:
        return public_person_name(self.contact_name, consent=self.consent_display)

    @property
    def contact_phone_masked(self) -> str:
        return mask_phone(self.contact_phone) if self.contact_phone else ""

    @property
    def is_on_wall(self) -> bool:
        return self.state == WishState.PUBLISHED and not self.offer_pending


class EventActor(models.TextChoices):
    RESIDENT = "resident", _("居民")
    MEMBER = "member", _("党员")
    SECRETARY = "secretary", _("社区")
    SYSTEM = "system", _("系统")


class WishEvent(models.Model):
    """One step in a wish's history: who did what, when, and why. Public events form the resident's timeline."""

    Actor = EventActor

    wish = models.ForeignKey(MicroWish, verbose_name=_("微心愿"), on_delete=models.CASCADE, related_name="events")
    action = models.CharField(_("操作"), max_length=30)
    from_state = models.CharField(_("原状态"), max_length=12, choices=WishState.choices, blank=True)
    to_state = models.CharField(_("新状态"), max_length=12, choices=WishState.choices)
    actor_kind = models.CharField(_("操作方"), max_length=10, choices=EventActor.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    reason = models.TextField(_("说明"), blank=True)
    public = models.BooleanField(_("居民可见"), default=True)
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("心愿进度")
        verbose_name_plural = _("心愿进度")
        ordering = ["created_at", "pk"]
        constraints = [
            models.CheckConstraint(condition=Q(actor_kind__in=EventActor.values), name="demands_event_actor_valid"),
        ]
        indexes = [
            # A wish's timeline in order (tracking page, review page).
            models.Index(fields=["wish", "created_at"], name="demands_event_wish_time"),
        ]

    def __str__(self):
        return f"{self.wish_id} {self.action}"


def _photo_path(instance, filename: str) -> str:
    # The service names the file (random, .jpg); the date folders keep directories small.
    return f"demands/photos/{instance.wish_id}/{filename}"


class WishPhoto(models.Model):
    """A photo of a fulfilment, re-encoded as JPEG without metadata under a random name; served by a checked view."""

    wish = models.ForeignKey(MicroWish, verbose_name=_("微心愿"), on_delete=models.CASCADE, related_name="photos")
    image = models.FileField(_("照片"), upload_to=_photo_path)
    width = models.PositiveIntegerField(_("宽度"))
    height = models.PositiveIntegerField(_("高度"))
    created_at = models.DateTimeField(_("上传时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("实现照片")
        verbose_name_plural = _("实现照片")
        ordering = ["pk"]

    def __str__(self):
        return self.image.name


class ContactAccessLog(models.Model):
    """Each view of a resident's full contact data: by whom, when, in which role (PIPL: accountable access)."""

    class Role(models.TextChoices):
        CLAIMER = "claimer", _("认领人")
        SECRETARY = "secretary", _("核实人")

    wish = models.ForeignKey(
        MicroWish, verbose_name=_("微心愿"), on_delete=models.CASCADE, related_name="contact_accesses"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("查看人"), on_delete=models.PROTECT, related_name="+"
    )
    role = models.CharField(_("身份"), max_length=10, choices=Role.choices)
    viewed_at = models.DateTimeField(_("查看时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("联系方式查看记录")
        verbose_name_plural = _("联系方式查看记录")
        ordering = ["-viewed_at", "-pk"]
        indexes = [models.Index(fields=["wish", "viewed_at"], name="demands_access_wish_time")]

    def __str__(self):
        return f"{self.wish_id} {self.user_id} {format_local(self.viewed_at)}"


class BlockedPhone(models.Model):
    """A mobile number whose wishes are no longer accepted (abuse); stored as its hash only."""

    phone_hash = models.CharField(max_length=64, unique=True, editable=False)
    phone_masked = models.CharField(_("手机号"), max_length=16, editable=False)
    reason = models.CharField(_("原因"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("停止受理的手机号")
        verbose_name_plural = _("停止受理的手机号")
        ordering = ["-created_at"]

    def __str__(self):
        return self.phone_masked


class BlockedNetwork(models.Model):
    """An IP address range (CIDR) whose submissions to the public forms are refused (a bot farm, an abusive host).
    `network` is stored in its canonical form (host bits zeroed: 203.0.113.0/24, 2001:db8::/32)."""

    network = models.CharField(_("IP 地址段"), max_length=49, unique=True)
    reason = models.CharField(_("原因"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("操作人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("停止受理的 IP 地址段")
        verbose_name_plural = _("停止受理的 IP 地址段")
        ordering = ["-created_at"]
        constraints = [
            # A network is an address, a slash and a prefix length; the service stores the canonical form.
            models.CheckConstraint(condition=Q(network__contains="/"), name="demands_blockednetwork_has_prefix"),
        ]

    def __str__(self):
        return self.network


# --- Households and pairing (结对帮扶) ----------------------------------------------------------------------------


class PriorityGroup(models.TextChoices):
    """Priority-group tags of a household: sensitive personal data (PIPL), stored encrypted, with separate consent."""

    UNEMPLOYED = "unemployed", _("下岗失业")
    LOW_INCOME = "low_income", _("特困低保")
    DISABLED = "disabled", _("残障")
    EMPTY_NEST = "empty_nest", _("空巢老人")
    LEFT_BEHIND_CHILDREN = "left_behind_children", _("留守儿童")


class Household(models.Model):
    """服务对象户: a household the community looks after, optionally paired with a member or team.

    Everything that identifies the household is encrypted: the contact's name, phone, address, notes and the
    priority-group tags. The tags need the household's separate consent (a DB check: no tags without it).
    """

    community = models.ForeignKey(
        Community, verbose_name=_("社区（村）"), on_delete=models.PROTECT, related_name="households"
    )
    grid = models.ForeignKey(
        Grid, verbose_name=_("网格"), null=True, blank=True, on_delete=models.SET_NULL, related_name="households"
    )
    contact_name = EncryptedTextField(_("联系人"))
    contact_phone = EncryptedTextField(_("联系电话"), blank=True)
    phone_hash = models.CharField(max_length=64, blank=True, editable=False)
    address = EncryptedTextField(_("住址"))
    # Comma-separated PriorityGroup codes, encrypted (use `priority_group_list`).
    priority_groups = EncryptedTextField(_("重点人群"), blank=True)
    note = EncryptedTextField(_("情况说明"), blank=True)
    consent_processing_at = models.DateTimeField(_("同意登记时间"))
    consent_sensitive_at = models.DateTimeField(_("同意登记敏感信息时间"), null=True, blank=True)
    consent_version = models.CharField(_("同意的说明版本"), max_length=20)
    active = models.BooleanField(_("在册"), default=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("登记人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    class Meta:
        verbose_name = _("服务对象户")
        verbose_name_plural = _("服务对象户")
        ordering = ["community", "pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(priority_groups="") | Q(consent_sensitive_at__isnull=False),
                name="demands_household_sensitive_needs_consent",
            ),
            models.CheckConstraint(
                condition=Q(contact_phone="", phone_hash="") | (~Q(contact_phone="") & ~Q(phone_hash="")),
                name="demands_household_phone_with_hash",
            ),
        ]
        indexes = [
            # A community's active households (admin list, pairing choices).
            models.Index(fields=["community", "active"], name="demands_household_community"),
        ]

    def __str__(self):
        return f"{self.community.name} {public_person_name(self.contact_name, consent=False)}"

    @property
    def priority_group_list(self) -> list[str]:
        return [code for code in (self.priority_groups or "").split(",") if code]

    @property
    def priority_group_labels(self) -> list[str]:
        labels = dict(PriorityGroup.choices)
        return [str(labels.get(code, code)) for code in self.priority_group_list]

    @property
    def contact_phone_masked(self) -> str:
        return mask_phone(self.contact_phone) if self.contact_phone else ""


class Pairing(models.Model):
    """结对帮扶: a member (or a team through a member) paired long-term with a household."""

    member = models.ForeignKey(Member, verbose_name=_("结对党员"), on_delete=models.PROTECT, related_name="pairings")
    team = models.ForeignKey(
        Team, verbose_name=_("服务队"), null=True, blank=True, on_delete=models.SET_NULL, related_name="pairings"
    )
    household = models.ForeignKey(
        Household, verbose_name=_("服务对象户"), on_delete=models.PROTECT, related_name="pairings"
    )
    started_on = models.DateField(_("结对日期"))
    ended_on = models.DateField(_("结束日期"), null=True, blank=True)
    note = models.CharField(_("帮扶内容"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("经办人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("结对帮扶")
        verbose_name_plural = _("结对帮扶")
        ordering = ["-started_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["member", "household"],
                condition=Q(ended_on__isnull=True),
                name="demands_pairing_one_active",
                violation_error_message=_("该党员已与这户结对。"),
            ),
            models.CheckConstraint(
                condition=Q(ended_on__isnull=True) | Q(ended_on__gte=F("started_on")),
                name="demands_pairing_ends_after_start",
            ),
        ]
        indexes = [
            # A member's active pairings (/pairings/) and a household's (admin).
            models.Index(fields=["member", "ended_on"], name="demands_pairing_member"),
        ]

    def __str__(self):
        return f"{self.member.name} ↔ {self.household}"

    @property
    def active(self) -> bool:
        return self.ended_on is None


class PairingVisit(models.Model):
    """走访: one visit of a pairing; it becomes a ServiceRecord (source "pairing") the community verifies."""

    pairing = models.ForeignKey(Pairing, verbose_name=_("结对帮扶"), on_delete=models.PROTECT, related_name="visits")
    started_at = models.DateTimeField(_("开始时间"))
    ended_at = models.DateTimeField(_("结束时间"))
    hours = models.DecimalField(_("服务时长（小时）"), max_digits=5, decimal_places=2)
    summary = models.CharField(
        _("走访内容"), max_length=200, help_text=_("做了什么，不写服务对象的个人信息（会写入志愿服务记录）。")
    )
    service_record = models.OneToOneField(
        ServiceRecord,
        verbose_name=_("志愿服务记录"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("走访记录")
        verbose_name_plural = _("走访记录")
        ordering = ["-started_at", "-pk"]
        constraints = [
            models.CheckConstraint(condition=Q(hours__gt=0), name="demands_visit_hours_positive"),
            models.CheckConstraint(condition=Q(ended_at__gt=F("started_at")), name="demands_visit_ends_after_start"),
        ]

    def __str__(self):
        return f"{self.pairing} {format_local(self.started_at, DATE)}"
