"""Who belongs where, and the official record of what each member has done (see DESIGN.md, members).

Invariants live here as database constraints; every write goes through `members.services`, which keeps the
derived columns (organization paths, phone and ID hashes, volunteer numbers) consistent and audited.
"""

from django.conf import settings
from django.db import NotSupportedError, models
from django.db.models import F, Q
from django.db.models.functions import Round
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.crypto import EncryptedTextField, blind_index, mask_phone
from core.history import HistoricalRecords

from .availability import FULL_MASK
from .identifiers import normalize_id_number, normalize_mobile


class M2MHistoricalRecords(HistoricalRecords):
    """simple-history's records, also when a tracked many-to-many changes from its other side.

    django-simple-history (3.13) records a "~" row of the model whose many-to-many changed, taking the signal's
    instance as that model; changed from the other side (`user.administered_organizations.add(org)`), the instance
    is the user, which keeps no history, and it raised AttributeError. From that side, each row of this model whose
    links changed gets its "~" record instead (for a clear, the rows linked just before)."""

    def m2m_changed(self, instance, action, attr, pk_set, reverse, **kwargs):
        if not reverse:
            return super().m2m_changed(instance, action, attr, pk_set, reverse, **kwargs)
        model = kwargs["model"]
        if action == "pre_clear":
            linked = model._base_manager.filter(**{attr: instance})
            instance._history_cleared = list(linked.values_list("pk", flat=True))
            return None
        if action == "post_clear":
            pk_set = instance.__dict__.pop("_history_cleared", ())
        elif action not in ("post_add", "post_remove"):
            return None
        for row in model._base_manager.filter(pk__in=pk_set or ()).order_by("pk"):
            super().m2m_changed(row, action, attr, None, False, **kwargs)
        return None

    def create_historical_record_m2ms(self, history_instance, instance):
        """The links copied as ids. simple-history's own rebuilt the saved row from its history record (a query for
        the excluded `path`) only to reach the through model, then joined both ends of every link: two queries and
        a model rebuilt on every save of an organization. (Its pre/post_create_historical_m2m_records signals,
        which nothing here listens to, are not sent.)"""
        for field in history_instance._history_m2m_fields:
            through = field.remote_field.through
            links = through._base_manager.filter(**{field.m2m_field_name(): instance})
            history_model = self.m2m_models[field]
            history_model.objects.bulk_create(
                history_model(history=history_instance, **link)
                for link in links.values(*(f.attname for f in through._meta.fields))
            )


class EpochSpan(models.Func):
    """Whole seconds from the first datetime to the second, usable in a CheckConstraint on both databases.

    PostgreSQL: EXTRACT(EPOCH FROM interval) (immutable). SQLite stores datetimes as UTC text, which
    strftime('%s') turns into Unix seconds. Django's own duration arithmetic cannot be used: on SQLite it
    calls a Python function, which a CHECK in the schema cannot rely on.
    """

    arity = 2
    output_field = models.DecimalField(max_digits=20, decimal_places=6)

    def as_sql(self, compiler, connection, **extra_context):
        raise NotSupportedError("EpochSpan is implemented for PostgreSQL and SQLite only.")

    def as_postgresql(self, compiler, connection, **extra_context):
        (start_sql, start_params), (end_sql, end_params) = (compiler.compile(e) for e in self.source_expressions)
        return f"EXTRACT(EPOCH FROM ({end_sql} - {start_sql}))", (*end_params, *start_params)

    def as_sqlite(self, compiler, connection, **extra_context):
        (start_sql, start_params), (end_sql, end_params) = (compiler.compile(e) for e in self.source_expressions)
        # The format is a parameter: DDL interpolates parameters with `%`, so a literal '%s' would be eaten.
        return (
            f"(CAST(strftime(%s, {end_sql}) AS INTEGER) - CAST(strftime(%s, {start_sql}) AS INTEGER))",
            ("%s", *end_params, "%s", *start_params),
        )


# --- Organisation tree, communities, grids ----------------------------------------------------------------------


class OrganizationType(models.TextChoices):
    # Listed from the top of the hierarchy down; `rank` compares levels.
    WORKING_COMMITTEE = "working_committee", _("党工委")
    COMMITTEE = "committee", _("党委")
    GENERAL_BRANCH = "general_branch", _("党总支")
    BRANCH = "branch", _("党支部")
    GROUP = "group", _("党小组")


class Organization(models.Model):
    """A party organization. The tree is `parent`; `path` materialises it so a subtree is one prefix query."""

    Type = OrganizationType

    parent = models.ForeignKey(
        "self", verbose_name=_("上级组织"), null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    # "000001.000012.000040." — the ids from the root down, each followed by a dot; maintained by
    # services.organization_create/organization_move. Zero-padding makes ordering by path a depth-first walk.
    path = models.CharField(_("路径"), max_length=255, editable=False, default="")
    type = models.CharField(_("组织类型"), max_length=20, choices=Type.choices)
    name = models.CharField(_("名称"), max_length=100)
    secretary = models.ForeignKey(
        "Member",
        verbose_name=_("书记"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="organizations_as_secretary",
    )
    contact_name = models.CharField(_("联系人"), max_length=50, blank=True)
    # The organization's office line, printed on certificates; not a member's personal number.
    contact_phone = models.CharField(_("联系电话"), max_length=32, blank=True)
    # The rule for "recorded elsewhere" records (members.services.national): imported while True, they count in the
    # member's total hours like the platform's own (shown apart by source); while False they are kept as listed only.
    count_external_hours = models.BooleanField(
        _("外部服务记录计入服务时长"),
        default=True,
        db_default=True,
        help_text=_("从全国志愿服务信息系统或其他平台导入的服务记录是否计入党员的累计服务时长（分开显示）。"),
    )
    admins = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("组织管理员"),
        blank=True,
        related_name="administered_organizations",
        help_text=_("可以管理本组织及其下级组织的用户（书记自动拥有此权限）。"),
    )
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    history = M2MHistoricalRecords(m2m_fields=[admins], excluded_fields=["path"])

    class Meta:
        verbose_name = _("党组织")
        verbose_name_plural = _("党组织")
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="members_org_unique_name_in_parent"),
            # NULL parents are distinct in SQL, so top-level names need their own partial constraint.
            models.UniqueConstraint(
                fields=["name"], condition=Q(parent__isnull=True), name="members_org_unique_root_name"
            ),
            models.UniqueConstraint(fields=["path"], condition=~Q(path=""), name="members_org_unique_path"),
            models.CheckConstraint(condition=Q(type__in=OrganizationType.values), name="members_org_type_valid"),
        ]
        indexes = [
            # One organization's subtree: path LIKE '000001.000012.%' (selectors.subtree, organization_move).
            # varchar_pattern_ops lets PostgreSQL use the index for LIKE under any collation; ignored on SQLite.
            models.Index(fields=["path"], name="members_org_path_prefix", opclasses=["varchar_pattern_ops"]),
        ]

    def __str__(self):
        return self.name

    @property
    def depth(self) -> int:
        """0 for a root organization, 1 for its children, …"""
        return max(self.path.count(".") - 1, 0)

    @property
    def rank(self) -> int:
        return self.Type.values.index(self.type)

    def is_in_subtree_of(self, other: "Organization") -> bool:
        return bool(other.path) and self.path.startswith(other.path)


class Community(models.Model):
    """社区（村）: a residential community, served by one party organization."""

    organization = models.ForeignKey(
        Organization, verbose_name=_("服务的党组织"), on_delete=models.PROTECT, related_name="communities"
    )
    name = models.CharField(_("名称"), max_length=100)
    address = models.CharField(_("地址"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("社区（村）")
        verbose_name_plural = _("社区（村）")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="members_community_unique_name"),
        ]

    def __str__(self):
        return self.name


class Grid(models.Model):
    """网格: a part of a community with a grid leader (网格长)."""

    community = models.ForeignKey(
        Community, verbose_name=_("社区（村）"), on_delete=models.CASCADE, related_name="grids"
    )
    name = models.CharField(_("名称"), max_length=100)
    leader = models.ForeignKey(
        "Member",
        verbose_name=_("网格长"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="grids_led",
    )

    class Meta:
        verbose_name = _("网格")
        verbose_name_plural = _("网格")
        ordering = ["community", "name"]
        constraints = [
            models.UniqueConstraint(fields=["community", "name"], name="members_grid_unique_name"),
        ]

    def __str__(self):
        return f"{self.community.name} {self.name}"


# --- Members ----------------------------------------------------------------------------------------------------


class TagKind(models.TextChoices):
    SKILL = "skill", _("特长")
    INTEREST = "interest", _("兴趣")


class Tag(models.Model):
    """An entry of the editable skill and interest lists (特长 / 兴趣)."""

    Kind = TagKind

    kind = models.CharField(_("类别"), max_length=10, choices=Kind.choices)
    name = models.CharField(_("名称"), max_length=50)

    class Meta:
        verbose_name = _("特长/兴趣标签")
        verbose_name_plural = _("特长/兴趣标签")
        ordering = ["kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["kind", "name"], name="members_tag_unique_name"),
            models.CheckConstraint(condition=Q(kind__in=TagKind.values), name="members_tag_kind_valid"),
        ]

    def __str__(self):
        return self.name


class VolunteerNumberCounter(models.Model):
    """The last volunteer-number sequence handed out in a year; its row is the lock of `volunteer_numbers_allocate`."""

    year = models.PositiveSmallIntegerField(_("年份"), primary_key=True)
    last_value = models.PositiveIntegerField(_("已分配序号"), default=0)

    class Meta:
        verbose_name = _("志愿者编号序列")
        verbose_name_plural = _("志愿者编号序列")

    def __str__(self):
        return f"{self.year}: {self.last_value}"


class Gender(models.TextChoices):
    MALE = "male", _("男")
    FEMALE = "female", _("女")


class MemberStatus(models.TextChoices):
    ACTIVE = "active", _("在册")
    TRANSFERRED = "transferred", _("已转出")  # organisation relationship moved off this platform
    INACTIVE = "inactive", _("停用")
    EXEMPT = "exempt", _("免除")  # e.g. over 70 or infirm: no service expected


# The common two-character surnames; any other name is masked after its first character.
COMPOUND_SURNAMES = frozenset(
    [
        "欧阳",
        "司马",
        "上官",
        "诸葛",
        "东方",
        "皇甫",
        "尉迟",
        "公孙",
        "慕容",
        "令狐",
        "夏侯",
        "长孙",
        "宇文",
        "司徒",
        "轩辕",
        "端木",
        "西门",
        "独孤",
        "南宫",
        "万俟",
        "闻人",
        "呼延",
    ]
)


def mask_name(name: str) -> str:
    """张三丰 -> 张**, 欧阳修 -> 欧阳**: the surname and two stars."""
    surname = name[:2] if len(name) > 2 and name[:2] in COMPOUND_SURNAMES else name[:1]
    return f"{surname}**"


class Member(models.Model):
    """党员, the volunteer. Public id: `volunteer_number`. Phone and ID number are encrypted, hashed for lookup."""

    Gender = Gender

    Status = MemberStatus

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("用户"), on_delete=models.PROTECT, related_name="member"
    )
    volunteer_number = models.CharField(_("志愿者编号"), max_length=16, unique=True, editable=False)
    name = models.CharField(_("姓名"), max_length=50)
    gender = models.CharField(_("性别"), max_length=10, choices=Gender.choices, blank=True)
    birth_year = models.PositiveSmallIntegerField(_("出生年份"), null=True, blank=True)
    phone = EncryptedTextField(_("手机号"), blank=True)
    # blind_index(normalised 11-digit mobile): exact search in the roster and sign-in by phone.
    phone_hash = models.CharField(max_length=64, blank=True, editable=False)
    id_number = EncryptedTextField(_("身份证号"), blank=True)
    id_number_hash = models.CharField(max_length=64, blank=True, editable=False)
    # MZ/T 061 志愿者统一编号, given by the national system (全国志愿服务信息系统) once the member is registered there.
    national_volunteer_number = models.CharField(
        _("全国志愿者统一编号"), max_length=32, blank=True, default="", db_default=""
    )
    organization = models.ForeignKey(
        Organization,
        verbose_name=_("所在支部"),
        on_delete=models.PROTECT,
        related_name="members",
        limit_choices_to={"type": OrganizationType.BRANCH},
    )
    skills = models.ManyToManyField(
        Tag,
        verbose_name=_("特长"),
        blank=True,
        related_name="members_with_skill",
        limit_choices_to={"kind": Tag.Kind.SKILL},
    )
    interests = models.ManyToManyField(
        Tag,
        verbose_name=_("兴趣"),
        blank=True,
        related_name="members_with_interest",
        limit_choices_to={"kind": Tag.Kind.INTEREST},
    )
    availability = models.PositiveIntegerField(
        _("可服务时段"), default=0, help_text=_("每周哪些时段可以参加服务（周一至周日 × 上午/下午/晚上）。")
    )
    status = models.CharField(_("状态"), max_length=20, choices=Status.choices, default=Status.ACTIVE)
    show_full_name_publicly = models.BooleanField(_("同意公开全名"), default=False)
    full_name_consent_at = models.DateTimeField(_("同意公开全名时间"), null=True, blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    # The ID number and the hashes stay out of the audit trail: it says who changed what and when, and must not
    # become a second, unpurgeable copy of the most sensitive identifier.
    history = HistoricalRecords(excluded_fields=["id_number", "id_number_hash", "phone_hash"])

    class Meta:
        verbose_name = _("党员")
        verbose_name_plural = _("党员")
        ordering = ["volunteer_number"]
        constraints = [
            models.UniqueConstraint(
                fields=["phone_hash"], condition=~Q(phone_hash=""), name="members_member_unique_phone"
            ),
            models.UniqueConstraint(
                fields=["id_number_hash"], condition=~Q(id_number_hash=""), name="members_member_unique_id_number"
            ),
            models.UniqueConstraint(
                fields=["national_volunteer_number"],
                condition=~Q(national_volunteer_number=""),
                name="members_member_unique_national_number",
                violation_error_message=_("该全国志愿者统一编号已被其他党员使用。"),
            ),
            models.CheckConstraint(condition=Q(status__in=MemberStatus.values), name="members_member_status_valid"),
            models.CheckConstraint(
                condition=Q(availability__gte=0, availability__lte=FULL_MASK),
                name="members_member_availability_21_bits",
            ),
            models.CheckConstraint(
                condition=Q(birth_year__isnull=True) | Q(birth_year__gte=1900, birth_year__lte=2100),
                name="members_member_birth_year_plausible",
            ),
            models.CheckConstraint(
                condition=Q(show_full_name_publicly=False) | Q(full_name_consent_at__isnull=False),
                name="members_member_consent_has_time",
            ),
        ]
        indexes = [
            # The roster filtered by status inside an organization (admin list filter, dashboards). `id` is a key column
            # so the dashboard joins the roster to its summaries by an index-only scan: a member row is ~2.7 kB
            # (encrypted fields), and reading 100,000 of them cost more than the figures themselves.
            models.Index(fields=["organization", "status", "id"], name="members_member_roster"),
        ]

    def __str__(self):
        return f"{self.name}（{self.volunteer_number}）"

    @property
    def phone_masked(self) -> str:
        return mask_phone(self.phone) if self.phone else ""

    @property
    def public_name(self) -> str:
        """How the member appears on public pages: the full name only with consent, otherwise 张** (DESIGN.md).

        Always two stars, whatever the length of the given name, so the mask does not tell how long the name is.
        """
        if self.show_full_name_publicly or not self.name:
            return self.name
        return mask_name(self.name)

    def set_phone(self, phone: str) -> None:
        """Store the normalised mobile number together with its lookup hash ('' clears both)."""
        self.phone = normalize_mobile(phone) if phone else ""
        self.phone_hash = blind_index(self.phone) if self.phone else ""

    def set_id_number(self, id_number: str) -> None:
        """Store the normalised ID number together with its lookup hash ('' clears both)."""
        self.id_number = normalize_id_number(id_number) if id_number else ""
        self.id_number_hash = blind_index(self.id_number) if self.id_number else ""


class ResidenceStatus(models.TextChoices):
    PENDING = "pending", _("待确认")
    CONFIRMED = "confirmed", _("已确认")
    ENDED = "ended", _("已结束")


class ResidenceRegistration(models.Model):
    """双报到: a member (usually of a workplace branch) registers at their residence community, which confirms it.

    Rows rather than fields on Member: moving home ends one registration and starts another, the history stays,
    and the community's secretary can see and confirm registrations without seeing the member's whole record.
    """

    Status = ResidenceStatus

    ACTIVE_STATUSES = (Status.PENDING, Status.CONFIRMED)

    member = models.ForeignKey(
        Member, verbose_name=_("党员"), on_delete=models.CASCADE, related_name="residence_registrations"
    )
    community = models.ForeignKey(
        Community, verbose_name=_("居住社区（村）"), on_delete=models.PROTECT, related_name="residence_registrations"
    )
    grid = models.ForeignKey(
        Grid, verbose_name=_("网格"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    registered_on = models.DateField(_("报到日期"))
    confirmed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("确认人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    confirmed_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    ended_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("双报到（社区报到）")
        verbose_name_plural = _("双报到（社区报到）")
        ordering = ["-registered_on", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["member"],
                condition=Q(status__in=["pending", "confirmed"]),
                name="members_residence_one_active_per_member",
                violation_error_message=_("该党员已有一条有效的社区报到记录。"),
            ),
            models.CheckConstraint(
                condition=Q(status__in=ResidenceStatus.values), name="members_residence_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(status="confirmed") | Q(confirmed_at__isnull=False),
                name="members_residence_confirmed_has_time",
            ),
        ]
        indexes = [
            # A community's registrations waiting for confirmation (admin list, the community secretary's queue).
            models.Index(fields=["community", "status"], name="members_residence_queue"),
        ]

    def __str__(self):
        return f"{self.member.name} → {self.community.name}"


class Transfer(models.Model):
    """One move of a member from one branch to another (组织关系转接), kept forever."""

    member = models.ForeignKey(Member, verbose_name=_("党员"), on_delete=models.PROTECT, related_name="transfers")
    from_organization = models.ForeignKey(
        Organization, verbose_name=_("转出组织"), on_delete=models.PROTECT, related_name="transfers_out"
    )
    to_organization = models.ForeignKey(
        Organization, verbose_name=_("转入组织"), on_delete=models.PROTECT, related_name="transfers_in"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("经办人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    transferred_on = models.DateField(_("转接日期"))
    note = models.CharField(_("备注"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("组织关系转接")
        verbose_name_plural = _("组织关系转接")
        ordering = ["-transferred_on", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(from_organization=F("to_organization")), name="members_transfer_changes_org"
            ),
        ]

    def __str__(self):
        return f"{self.member.name}：{self.from_organization.name} → {self.to_organization.name}"


class Team(models.Model):
    """服务队 for 组团服务: members of an organization's subtree under a leader."""

    organization = models.ForeignKey(
        Organization, verbose_name=_("所属组织"), on_delete=models.PROTECT, related_name="teams"
    )
    name = models.CharField(_("名称"), max_length=100)
    leader = models.ForeignKey(
        Member, verbose_name=_("队长"), null=True, blank=True, on_delete=models.SET_NULL, related_name="teams_led"
    )
    members = models.ManyToManyField(Member, verbose_name=_("队员"), blank=True, related_name="teams")
    description = models.TextField(_("简介"), blank=True)
    created_at = models.DateTimeField(_("创建时间"), auto_now_add=True)

    class Meta:
        verbose_name = _("服务队")
        verbose_name_plural = _("服务队")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "name"], name="members_team_unique_name"),
        ]

    def __str__(self):
        return self.name


# --- Service records --------------------------------------------------------------------------------------------


class ServiceSource(models.TextChoices):
    ACTIVITY = "activity", _("活动")
    WISH = "wish", _("微心愿")
    PAIRING = "pairing", _("结对帮扶走访")
    SELF_REPORT = "self_report", _("自主申报")
    MANUAL = "manual", _("手工录入")
    # Imported from the national system or another platform (members.services.national); earns no points.
    EXTERNAL = "external", _("其他平台记录")


class ServiceRole(models.TextChoices):
    PARTICIPANT = "participant", _("参与者")
    LEADER = "leader", _("现场负责人")


class ServiceRecordStatus(models.TextChoices):
    PENDING = "pending", _("待确认")
    VERIFIED = "verified", _("已确认")
    CORRECTED = "corrected", _("已更正")
    VOID = "void", _("已作废")
    # A record from elsewhere kept for reference while the organization's rule does not count such hours.
    LISTED = "listed", _("仅登记（不计入）")


class ServiceRecord(models.Model):
    """志愿服务记录: one service by one member. 谁组织谁记录、谁记录谁证明 — the recording organization verifies it."""

    Source = ServiceSource
    Role = ServiceRole
    Status = ServiceRecordStatus

    # Statuses whose hours count in totals, certificates, star ratings and points.
    COUNTED_STATUSES = (Status.VERIFIED, Status.CORRECTED)

    member = models.ForeignKey(Member, verbose_name=_("党员"), on_delete=models.PROTECT, related_name="service_records")
    date = models.DateField(_("服务日期"))
    started_at = models.DateTimeField(_("开始时间"))
    ended_at = models.DateTimeField(_("结束时间"))
    place = models.CharField(_("服务地点"), max_length=200)
    content = models.TextField(_("服务内容"))
    beneficiary_summary = models.CharField(
        _("服务对象概况"),
        max_length=200,
        blank=True,
        help_text=_("只写概况（如“空巢老人3户”），不得填写服务对象的个人信息。"),
    )
    hours = models.DecimalField(_("服务时长（小时）"), max_digits=5, decimal_places=2)
    evaluation = models.PositiveSmallIntegerField(_("服务评价"), null=True, blank=True, help_text=_("1–5 分"))
    organizer = models.CharField(_("负责人"), max_length=50)
    recorder = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("记录人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    recording_organization = models.ForeignKey(
        Organization, verbose_name=_("记录组织"), on_delete=models.PROTECT, related_name="recorded_services"
    )
    source = models.CharField(_("来源"), max_length=20, choices=Source.choices, default=Source.MANUAL)
    # What produced the record, e.g. "activity:12"; with source and member it makes recording idempotent.
    source_ref = models.CharField(_("来源编号"), max_length=64, blank=True)
    # The on-site leader (现场负责人) of a service earns the points rule's leader multiplier (incentives.Rule).
    role = models.CharField(
        _("服务角色"), max_length=12, choices=Role.choices, default=Role.PARTICIPANT, db_default=Role.PARTICIPANT
    )
    # MZ/T 061 服务类别: a code of members.national.SERVICE_CATEGORIES, set by the service that records it ('' unknown).
    service_category = models.CharField(_("服务类别"), max_length=32, blank=True, default="", db_default="")
    # For source "external": where it was recorded (全国志愿服务信息系统, another platform's name).
    origin = models.CharField(_("原记录平台"), max_length=100, blank=True, default="", db_default="")
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("确认人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    verified_at = models.DateTimeField(_("确认时间"), null=True, blank=True)
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("作废人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    voided_at = models.DateTimeField(_("作废时间"), null=True, blank=True)
    void_reason = models.CharField(_("作废原因"), max_length=200, blank=True)
    created_at = models.DateTimeField(_("记录时间"), auto_now_add=True)
    updated_at = models.DateTimeField(_("更新时间"), auto_now=True)

    history = HistoricalRecords()

    class Meta:
        verbose_name = _("志愿服务记录")
        verbose_name_plural = _("志愿服务记录")
        ordering = ["-date", "-started_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(hours__gt=0),
                name="members_record_hours_positive",
                violation_error_message=_("服务时长必须大于0。"),
            ),
            models.CheckConstraint(
                condition=Q(ended_at__gt=F("started_at")),
                name="members_record_ends_after_start",
                violation_error_message=_("结束时间必须晚于开始时间。"),
            ),
            # hours ≤ the span from start to end. hours has two decimals, so hours × 3600 is a whole number of
            # seconds; ROUND removes SQLite's binary floating-point noise (0.05 × 3600 = 180.00000000000003).
            models.CheckConstraint(
                condition=LessThanOrEqual(Round(F("hours") * 3600), EpochSpan("started_at", "ended_at")),
                name="members_record_hours_within_span",
                violation_error_message=_("服务时长不能超过开始到结束的时间。"),
            ),
            models.CheckConstraint(
                condition=Q(evaluation__isnull=True) | Q(evaluation__gte=1, evaluation__lte=5),
                name="members_record_evaluation_1_5",
                violation_error_message=_("服务评价应为1到5分。"),
            ),
            models.CheckConstraint(
                condition=Q(status__in=ServiceRecordStatus.values), name="members_record_status_valid"
            ),
            models.CheckConstraint(condition=Q(source__in=ServiceSource.values), name="members_record_source_valid"),
            models.CheckConstraint(condition=Q(role__in=ServiceRole.values), name="members_record_role_valid"),
            # Only a record from elsewhere is ever kept without counting.
            models.CheckConstraint(
                condition=~Q(status="listed") | Q(source="external"), name="members_record_listed_is_external"
            ),
            models.CheckConstraint(
                condition=~Q(status__in=["verified", "corrected"]) | Q(verified_at__isnull=False),
                name="members_record_verified_has_time",
            ),
            models.CheckConstraint(
                condition=~Q(status="void") | Q(voided_at__isnull=False), name="members_record_void_has_time"
            ),
            # A later step recording the same thing twice (a retried task, a double click) finds the first row.
            models.UniqueConstraint(
                fields=["source", "source_ref", "member"],
                condition=~Q(source_ref=""),
                name="members_record_unique_source_ref",
                violation_error_message=_("该来源已为这名党员记录过服务。"),
            ),
        ]
        indexes = [
            # A member's records by date: /me/records/, yearly totals, the certificate.
            models.Index(fields=["member", "-date"], name="members_record_member_date"),
            # The verification queue: pending records of the organizations a secretary manages.
            models.Index(fields=["recording_organization", "status"], name="members_record_org_status"),
            # Counted records by date, with what the sums need (index-only): the dashboard's days of a partial
            # month (volunteer_platform.selectors._figures_by_child) and the live figures of years not summarised.
            models.Index(
                fields=["date", "member", "hours"],
                condition=Q(status__in=["verified", "corrected"]),
                name="members_record_counted_date",
            ),
        ]

    def __str__(self):
        return f"{self.member.name} {self.date} {self.hours}h"

    @property
    def is_counted(self) -> bool:
        return self.status in self.COUNTED_STATUSES


class CorrectionStatus(models.TextChoices):
    PENDING = "pending", _("待审核")
    APPROVED = "approved", _("已批准")
    REFUSED = "refused", _("已拒绝")


class ServiceRecordCorrection(models.Model):
    """A request to change a confirmed record; the recording organization approves (the change applies) or refuses."""

    Status = CorrectionStatus

    record = models.ForeignKey(
        ServiceRecord, verbose_name=_("服务记录"), on_delete=models.PROTECT, related_name="corrections"
    )
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("申请人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    requested_at = models.DateTimeField(_("申请时间"), auto_now_add=True)
    # Proposed values; NULL / empty means "unchanged".
    new_started_at = models.DateTimeField(_("更正后开始时间"), null=True, blank=True)
    new_ended_at = models.DateTimeField(_("更正后结束时间"), null=True, blank=True)
    new_hours = models.DecimalField(_("更正后时长（小时）"), max_digits=5, decimal_places=2, null=True, blank=True)
    new_place = models.CharField(_("更正后地点"), max_length=200, blank=True)
    new_content = models.TextField(_("更正后内容"), blank=True)
    reason = models.TextField(_("更正理由"))
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
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

    class Meta:
        verbose_name = _("服务记录更正申请")
        verbose_name_plural = _("服务记录更正申请")
        ordering = ["-requested_at", "-pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["record"],
                condition=Q(status="pending"),
                name="members_correction_one_pending_per_record",
                violation_error_message=_("该记录已有待审核的更正申请。"),
            ),
            models.CheckConstraint(
                condition=Q(new_hours__isnull=True) | Q(new_hours__gt=0), name="members_correction_hours_positive"
            ),
            models.CheckConstraint(
                condition=Q(new_started_at__isnull=True, new_ended_at__isnull=True)
                | Q(new_started_at__isnull=False, new_ended_at__isnull=False),
                name="members_correction_times_together",
            ),
            models.CheckConstraint(
                condition=Q(new_hours__isnull=False)
                | Q(new_started_at__isnull=False)
                | ~Q(new_place="")
                | ~Q(new_content=""),
                name="members_correction_changes_something",
            ),
            models.CheckConstraint(
                condition=Q(status__in=CorrectionStatus.values), name="members_correction_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="pending") | Q(reviewed_at__isnull=False), name="members_correction_reviewed_time"
            ),
        ]

    def __str__(self):
        return _("更正申请 #%(pk)s") % {"pk": self.pk}


MONTHS = range(1, 13)
ALL_DAYS = (1 << 31) - 1  # bits 0–30: days 1–31 of a month


def _service_year_month_fields() -> dict[str, models.Field]:
    fields: dict[str, models.Field] = {}
    for m in MONTHS:
        fields[f"hours_{m:02d}"] = models.DecimalField(max_digits=9, decimal_places=2, default=0)
        fields[f"services_{m:02d}"] = models.PositiveIntegerField(default=0)
        # Bit d-1 set: at least one counted service on day d of the month.
        fields[f"days_{m:02d}"] = models.IntegerField(default=0)
    return fields


class ServiceYear(models.Model):
    """Summary of one member's counted service records (verified or corrected) in one calendar year: per month the
    hours, the number of services, and which days had one. It makes the dashboard's figures over 1,000,000 records
    cheap (see volunteer_platform/selectors.py, "Speed"): one row per member and year instead of the records.

    Keyed by member, not by organization, so a transfer or a status change moves nothing: the dashboard joins the
    member's current branch and status, as the live computation does. Written only by `members.services`, in the
    transaction that changes a counted record (the row is locked and recomputed from the member's records, so it is
    exact even when two writes race) and by `service_year_rebuild` (whole years, periodic)."""

    member = models.ForeignKey(Member, on_delete=models.CASCADE, related_name="service_years")
    year = models.PositiveSmallIntegerField()
    services = models.PositiveIntegerField(default=0)  # the year's total, for "no service this year"
    locals().update(_service_year_month_fields())

    class Meta:
        verbose_name = _("年度服务汇总")
        verbose_name_plural = _("年度服务汇总")
        constraints = [
            # One row per member and year: the row lock every writer takes (and the follow-up list's anti-join).
            models.UniqueConstraint(fields=["member", "year"], name="members_serviceyear_unique"),
            models.CheckConstraint(condition=Q(year__gte=2000, year__lte=2100), name="members_serviceyear_year"),
            *[
                models.CheckConstraint(
                    condition=Q(**{f"days_{m:02d}__gte": 0, f"days_{m:02d}__lte": ALL_DAYS}),
                    name=f"members_serviceyear_days_{m:02d}",
                )
                for m in MONTHS
            ],
        ]

    def __str__(self):
        return f"{self.member_id} {self.year}"


class ServiceYearBuilt(models.Model):
    """A year whose ServiceYear rows were built from the records by `service_year_rebuild`; from then on the
    services keep them current. The dashboard reads the summary only for built years and computes the others live
    (a fresh database, and the tests that create records directly, never have a built year)."""

    year = models.PositiveSmallIntegerField(primary_key=True)
    rebuilt_at = models.DateTimeField()

    class Meta:
        verbose_name = _("已汇总年度")
        verbose_name_plural = _("已汇总年度")

    def __str__(self):
        return str(self.year)


class DeletionRequestStatus(models.TextChoices):
    PENDING = "pending", _("待审批")
    APPROVED = "approved", _("已批准，已匿名化")
    REJECTED = "rejected", _("未批准")


class DeletionRequest(models.Model):
    """A member's request to delete their personal information (PIPL art. 47). The secretary of their branch (or
    a platform admin) decides. Approval anonymises the member (services.member_anonymise): what identifies them is
    cleared and their account closed, while their service records stay, with their hours, in the organization's
    statistics — under a name that no longer points at anyone."""

    Status = DeletionRequestStatus

    member = models.ForeignKey(
        Member, verbose_name=_("党员"), on_delete=models.PROTECT, related_name="deletion_requests"
    )
    reason = models.TextField(_("申请理由"), max_length=500, blank=True)
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.PENDING)
    requested_at = models.DateTimeField(_("申请时间"), auto_now_add=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("审批人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("审批时间"), null=True, blank=True)
    decision_note = models.CharField(_("审批意见"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("个人信息删除申请")
        verbose_name_plural = _("个人信息删除申请")
        ordering = ["-requested_at", "-pk"]
        constraints = [
            # A member waits for one decision at a time.
            models.UniqueConstraint(
                fields=["member"], condition=Q(status="pending"), name="members_deletion_one_pending"
            ),
            models.CheckConstraint(
                condition=Q(status__in=DeletionRequestStatus.values), name="members_deletion_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(status="pending", decided_at__isnull=True)
                | (~Q(status="pending") & Q(decided_at__isnull=False)),
                name="members_deletion_decided_iff_not_pending",
            ),
        ]

    def __str__(self):
        return f"{self.member} {self.get_status_display()}"


class SignInCodePurpose(models.TextChoices):
    SIGN_IN = "sign_in", _("短信验证码登录")
    PASSWORD_RESET = "password_reset", _("重设密码")
    WECHAT_BIND = "wechat_bind", _("绑定微信")


class SignInCodeOutcome(models.TextChoices):
    OPEN = "", _("有效")
    USED = "used", _("已使用")
    REPLACED = "replaced", _("已被新验证码取代")
    EXHAUSTED = "exhausted", _("输错次数过多")


SIGN_IN_CODE_MAX_ATTEMPTS = 5  # wrong entries that end a code


class SignInCode(models.Model):
    """A 6-digit code texted to a member's phone to sign in or to set a new password (members.services.sign_in_codes).

    Only its keyed hash is stored (`code_hash`); the code itself exists in the SMS and, sealed, in the task that sends
    it. A code is open until it is used, replaced by a newer one or tried wrongly too often; the clock ends it at
    `expires_at` without a write. At most one open code per account and purpose (a constraint).
    """

    MAX_ATTEMPTS = SIGN_IN_CODE_MAX_ATTEMPTS

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="+"
    )
    purpose = models.CharField(_("用途"), max_length=20, choices=SignInCodePurpose.choices)
    code_hash = models.CharField(_("验证码散列"), max_length=64, editable=False)
    created_at = models.DateTimeField(_("发送时间"))
    expires_at = models.DateTimeField(_("失效时间"))
    attempts = models.PositiveSmallIntegerField(_("输错次数"), default=0)
    outcome = models.CharField(_("结果"), max_length=20, choices=SignInCodeOutcome.choices, default="", blank=True)
    closed_at = models.DateTimeField(_("结束时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("短信验证码")
        verbose_name_plural = _("短信验证码")
        indexes = [models.Index(fields=["user", "purpose", "-created_at"], name="members_signincode_user")]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "purpose"], condition=Q(outcome=""), name="members_signincode_one_open"
            ),
            models.CheckConstraint(
                condition=Q(purpose__in=SignInCodePurpose.values), name="members_signincode_purpose_valid"
            ),
            models.CheckConstraint(
                condition=Q(outcome__in=SignInCodeOutcome.values), name="members_signincode_outcome_valid"
            ),
            models.CheckConstraint(
                condition=Q(attempts__lte=SIGN_IN_CODE_MAX_ATTEMPTS), name="members_signincode_attempts_at_most_max"
            ),
            models.CheckConstraint(
                condition=Q(outcome="", closed_at__isnull=True) | (~Q(outcome="") & Q(closed_at__isnull=False)),
                name="members_signincode_closed_iff_outcome",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=F("created_at")), name="members_signincode_expires_later"
            ),
        ]

    def __str__(self):
        sent = timezone.localtime(self.created_at).strftime("%Y-%m-%d %H:%M") if self.created_at else ""
        return f"{self.get_purpose_display()} {sent}"


class WeChatApp(models.TextChoices):
    """Which of the platform's WeChat apps an openid belongs to (each app gives one person its own openid)."""

    OFFICIAL_ACCOUNT = "mp", _("微信公众号（微信内网页授权）")
    WEBSITE = "open", _("微信开放平台网站应用（扫码登录）")
    MINI_PROGRAM = "mini", _("微信小程序")


class WeChatBinding(models.Model):
    """A member's account signs in with a WeChat identity (members.services.wechat).

    Made only after the member proved the phone on file with an SMS code; never makes an account. The openid is
    an identifier of the person in one app, not a secret; the unionid (given when the apps are linked under one
    open-platform account) is the same person across them. Nothing else of the WeChat profile is kept but an
    optional nickname, so the member can tell which WeChat is bound. One binding per account and app; an openid,
    and a unionid, bound to at most one account per app (constraints).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("用户"), on_delete=models.CASCADE, related_name="wechat_bindings"
    )
    app = models.CharField(_("微信应用"), max_length=8, choices=WeChatApp.choices)
    openid = models.CharField("openid", max_length=64)
    unionid = models.CharField("unionid", max_length=64, blank=True, default="")
    nickname = models.CharField(_("微信昵称"), max_length=64, blank=True, default="")
    created_at = models.DateTimeField(_("绑定时间"), default=timezone.now)
    last_sign_in_at = models.DateTimeField(_("最近登录"), null=True, blank=True)

    class Meta:
        verbose_name = _("微信绑定")
        verbose_name_plural = _("微信绑定")
        constraints = [
            models.UniqueConstraint(fields=["user", "app"], name="members_wechat_one_per_app"),
            # Also the index of the sign-in's lookup (app, openid).
            models.UniqueConstraint(fields=["app", "openid"], name="members_wechat_openid_once"),
            models.UniqueConstraint(
                fields=["app", "unionid"], condition=~Q(unionid=""), name="members_wechat_unionid_once"
            ),
            models.CheckConstraint(condition=Q(app__in=WeChatApp.values), name="members_wechat_app_valid"),
            models.CheckConstraint(condition=~Q(openid=""), name="members_wechat_openid_given"),
        ]
        indexes = [
            # The sign-in's lookup of a unionid bound through another app (members.selectors.wechat_binding).
            models.Index(fields=["unionid"], condition=~Q(unionid=""), name="members_wechat_unionid"),
        ]

    def __str__(self):
        return f"{self.user} · {self.get_app_display()}"


# --- Exchange with the national system (members.national, members.services.national) ------------------------------


def national_export_path(batch: "NationalExportBatch", filename: str) -> str:
    return f"national-exports/{batch.organization_id}/{filename}"


class NationalExportBatch(models.Model):
    """One export to the national system (全国志愿服务信息系统) of an organization's subtree: the volunteers not yet
    registered there and the records not yet sent, dated in the period, plus the corrections and voids of records
    sent before. Its files are written once, when it is made, and kept as they went out."""

    organization = models.ForeignKey(
        Organization, verbose_name=_("党组织"), on_delete=models.PROTECT, related_name="national_exports"
    )
    period_start = models.DateField(_("开始日期"))
    period_end = models.DateField(_("结束日期"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("导出人"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("导出时间"), default=timezone.now)
    volunteers = models.PositiveIntegerField(_("志愿者"), default=0)
    records = models.PositiveIntegerField(_("新增记录"), default=0)
    corrections = models.PositiveIntegerField(_("更正记录"), default=0)
    voids = models.PositiveIntegerField(_("作废记录"), default=0)
    volunteers_file = models.FileField(_("志愿者文件"), upload_to=national_export_path, blank=True)
    records_file = models.FileField(_("服务记录文件"), upload_to=national_export_path, blank=True)

    class Meta:
        verbose_name = _("全国志愿服务信息系统导出批次")
        verbose_name_plural = _("全国志愿服务信息系统导出批次")
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.CheckConstraint(
                condition=Q(period_end__gte=F("period_start")), name="members_nationalbatch_period_ordered"
            ),
        ]

    def __str__(self):
        return _("%(org)s 第%(pk)s批（%(start)s 至 %(end)s）") % {
            "org": self.organization.name,
            "pk": self.pk,
            "start": self.period_start,
            "end": self.period_end,
        }


class NationalExportKind(models.TextChoices):
    VOLUNTEER = "volunteer", _("志愿者")
    RECORD = "record", _("新增记录")
    CORRECTION = "correction", _("更正")
    VOID = "void", _("作废")


class NationalExportItem(models.Model):
    """What one batch sent: a volunteer, or one version of a record. A record goes out once as new; a later change
    goes out once per version (its `updated_at` when sent) as a correction, and a void once (constraints)."""

    Kind = NationalExportKind

    batch = models.ForeignKey(
        NationalExportBatch, verbose_name=_("批次"), on_delete=models.CASCADE, related_name="items"
    )
    kind = models.CharField(_("类型"), max_length=12, choices=Kind.choices)
    member = models.ForeignKey(
        Member, verbose_name=_("党员"), null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    record = models.ForeignKey(
        ServiceRecord,
        verbose_name=_("服务记录"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="national_items",
    )
    # The record's version that went out (its updated_at then); a later updated_at means a change to send.
    record_version = models.DateTimeField(_("记录版本"), null=True, blank=True)

    class Meta:
        verbose_name = _("导出明细")
        verbose_name_plural = _("导出明细")
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=NationalExportKind.values), name="members_nationalitem_kind"),
            models.CheckConstraint(
                condition=(Q(kind="volunteer", member__isnull=False, record__isnull=True, record_version__isnull=True))
                | (~Q(kind="volunteer") & Q(member__isnull=True, record__isnull=False, record_version__isnull=False)),
                name="members_nationalitem_subject",
            ),
            models.UniqueConstraint(
                fields=["member"], condition=Q(kind="volunteer"), name="members_nationalitem_volunteer_once"
            ),
            models.UniqueConstraint(
                fields=["record"], condition=Q(kind="record"), name="members_nationalitem_record_once"
            ),
            models.UniqueConstraint(fields=["record"], condition=Q(kind="void"), name="members_nationalitem_void_once"),
            # Also the index of "the last version sent" (services.national): record, then version.
            models.UniqueConstraint(fields=["record", "record_version"], name="members_nationalitem_version_once"),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} {self.record_id or self.member_id}"
