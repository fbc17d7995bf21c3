"""Forms of the demands pages. They show the services' rules as messages before saving; views pass the cleaned
data to `demands.services`, which check again inside the transaction."""

from decimal import Decimal
from typing import cast

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from core.forms import GuardedForm, GuardedModelForm, NaturalOrderModelChoiceField, add_service_errors, kept_choices
from core.params import parse_id
from core.widgets import QuickSelect
from members.identifiers import normalize_mobile
from members.models import Community, Grid, Team

from .models import (
    MAX_PHOTOS,
    BlockedNetwork,
    BlockedPhone,
    Household,
    MicroWish,
    PriorityGroup,
    ServiceOffer,
    TargetGroup,
    WishCategory,
)
from .validators import (
    check_network,
    check_phone,
    check_phone_format,
    check_place,
    check_plain_text,
    check_priority_groups,
)


def honeypot_field() -> forms.CharField:
    """A field people never see (hidden by the .hp-field wrapper): bots that fill every input give themselves
    away. The public forms answer a filled one like any other refusal of theirs, so a bot learns nothing."""
    return forms.CharField(
        label=_("请勿填写此项"),
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )


class GridSelect(QuickSelect):
    """Each grid's option names its community (data-community) and itself (data-name), so static/js/grids.js can
    keep the options of the chosen community only and drop the community from their text."""

    def create_option(self, name, value, label, selected, index, subindex=None, attrs=None):
        option = super().create_option(name, value, label, selected, index, subindex, attrs)
        grid = getattr(value, "instance", None)
        if grid is not None:
            option["attrs"].update({"data-community": grid.community_id, "data-name": grid.name})
        return option


class GridChoiceField(NaturalOrderModelChoiceField):
    """Grids in their natural order within each community (第一、第二、第三 … 第十), each named with its community."""

    widget = GridSelect

    def label_from_instance(self, obj):
        return f"{obj.community.name} · {obj.name}"


class CommunityGridChoiceField(NaturalOrderModelChoiceField):
    """The grids of one community, in their natural order, by name."""

    def label_from_instance(self, obj):
        return obj.name


class PlainTextMixin:
    """Text fields listed in `plain_fields` refuse markup, emoji and control characters (validators.py)."""

    plain_fields: tuple[str, ...] = ()

    def _clean_plain(self, data):
        for name in self.plain_fields:
            value = data.get(name)
            if value:
                try:
                    check_plain_text(value)
                except ValidationError as exc:
                    self.add_error(name, exc)
        return data


class WishForm(PlainTextMixin, GuardedForm):
    """The public form (/wishes/new/): a resident's wish, contact and consents; `website` is a honeypot."""

    plain_fields = ("title", "description", "contact_name", "preferred_time")

    category = forms.ModelChoiceField(
        label=_("心愿类别"), queryset=WishCategory.objects.none(), empty_label=None, widget=QuickSelect
    )
    title = forms.CharField(
        label=_("心愿标题"),
        min_length=2,
        max_length=60,
        help_text=_("一句话说清需要什么帮助，如“帮忙修理漏水的水龙头”。"),
    )
    description = forms.CharField(
        label=_("具体内容"),
        min_length=5,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("最多1000字。请不要在这里写身份证号等敏感信息。"),
    )
    community = forms.ModelChoiceField(label=_("所在社区（村）"), queryset=Community.objects.none(), widget=QuickSelect)
    grid = GridChoiceField(label=_("网格（不清楚可不选）"), queryset=Grid.objects.none(), required=False)
    preferred_time = forms.CharField(
        label=_("希望的时间"), max_length=100, required=False, help_text=_("如“周末上午”“工作日晚上”。")
    )
    contact_name = forms.CharField(label=_("联系人"), max_length=30)
    phone = forms.CharField(
        label=_("手机号"),
        max_length=20,
        widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "tel"}),
        help_text=_("用于接收查询码和进度短信，只有核实的社区工作人员和认领的党员能看到完整号码。"),
    )
    consent_processing = forms.BooleanField(
        label=_("我同意为办理本心愿处理我的姓名和手机号"),
        error_messages={"required": _("需要您同意我们为办理心愿处理您的联系方式，才能提交。")},
    )
    consent_display = forms.BooleanField(
        label=_("我同意在心愿墙上显示我的姓名（可选）"),
        required=False,
        help_text=_("不同意时，公开页面只显示您的姓氏加“**”（如“张**”）。"),
    )
    website = honeypot_field()
    offer = forms.ModelChoiceField(queryset=ServiceOffer.objects.none(), required=False, widget=forms.HiddenInput)

    class Media:
        js = ("js/grids.js",)  # the grid list follows the chosen community

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = WishCategory.objects.filter(active=True)
        self.fields["community"].queryset = Community.objects.order_by("name")
        # Every grid, each option naming its community: the page's script keeps the chosen community's, and without
        # the script the list still works; check_place refuses a grid of another community either way.
        self.fields["grid"].queryset = Grid.objects.select_related("community").order_by("community__name", "name")
        self.fields["grid"].widget.attrs["data-grids-of"] = self["community"].auto_id
        # Any offer: one paused since the page was opened gets the service's message, not "invalid choice".
        self.fields["offer"].queryset = ServiceOffer.objects.all()
        self.fields["consent_processing"].help_text = format_html(
            '{} <a href="{}" target="_blank" rel="noopener">{}</a>',
            _("我们只为办理心愿使用这些信息，办结后按期删除。"),
            reverse("demands:privacy"),
            _("查看隐私说明"),
        )

    def clean(self):
        data = self._clean_plain(super().clean())
        if data.get("website"):
            raise ValidationError(_("提交未成功，请刷新页面后重新填写。"), code="honeypot")
        if data.get("phone") and "phone" not in self.errors:
            try:
                data["phone"], data["phone_hash"] = check_phone(data["phone"])
            except ValidationError as exc:
                add_service_errors(self, exc)
        if data.get("community"):
            try:
                check_place(community=data["community"], grid=data.get("grid"))
            except ValidationError as exc:
                add_service_errors(self, exc)
        return data

    def submission(self) -> dict:
        data = self.cleaned_data
        return {
            key: data[key]
            for key in (
                "category",
                "title",
                "description",
                "community",
                "grid",
                "preferred_time",
                "contact_name",
                "phone",
                "consent_processing",
                "consent_display",
                "offer",
            )
        }


class WallFilterForm(GuardedForm):
    community = forms.ModelChoiceField(
        label=_("社区（村）"),
        queryset=Community.objects.none(),
        required=False,
        empty_label=_("全部社区"),
        widget=QuickSelect,
    )
    grid = GridChoiceField(label=_("网格"), queryset=Grid.objects.none(), required=False, empty_label=_("全部网格"))
    category = forms.ModelChoiceField(
        label=_("类别"),
        queryset=WishCategory.objects.none(),
        required=False,
        empty_label=_("全部类别"),
        widget=QuickSelect,
    )
    target_group = forms.ChoiceField(
        label=_("服务对象"), choices=[("", _("全部对象")), *TargetGroup.choices], required=False, widget=QuickSelect
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["community"].queryset = Community.objects.order_by("name")
        self.fields["category"].queryset = WishCategory.objects.all()
        kept_choices(self.fields["community"], "demands:wall:community")
        kept_choices(self.fields["category"], "demands:wall:category")
        # The grids offered: those of the community chosen (a district has hundreds of grids; all of them were 500
        # options, 30 KB of the wall's 63 KB, and a list no one can use on a phone), or the one grid a link names;
        # none before a community is chosen, and the page asks for a community first (`offers_grids`).
        community, grid = (parse_id(str(self.data.get(name, ""))) for name in ("community", "grid"))
        grids = Grid.objects.select_related("community").order_by("community__name", "name")
        if community is not None:
            grids = grids.filter(community_id=community)
        elif grid is not None:
            grids = grids.filter(pk=grid)
        else:
            grids = grids.none()
        self.fields["grid"].queryset = grids
        self.offers_grids = community is not None or grid is not None

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        return {k: v for k, v in self.cleaned_data.items() if v}


WRONG_TRACKING_ANSWER = _("查询码或手机号后四位不正确，请核对后再试。")


class TrackForm(GuardedForm):
    code = forms.CharField(
        label=_("查询码"),
        max_length=20,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autocapitalize": "characters"}),
    )
    last4 = forms.RegexField(
        label=_("手机号后四位"),
        regex=r"^\d{4}$",
        max_length=4,
        error_messages={"invalid": _("请输入手机号的最后四位数字。")},
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    website = honeypot_field()

    def clean(self):
        data = super().clean()
        if data.get("website"):
            # The answer a wrong code or wrong digits get: nothing tells a bot it was spotted.
            raise ValidationError(WRONG_TRACKING_ANSWER, code="honeypot")
        return data


class ReasonForm(PlainTextMixin, GuardedForm):
    plain_fields = ("reason",)

    reason = forms.CharField(label=_("原因"), max_length=200, required=False, widget=forms.Textarea(attrs={"rows": 2}))

    def __init__(self, *args, required: bool = False, label=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["reason"].required = required
        if label:
            self.fields["reason"].label = label

    def clean(self):
        return self._clean_plain(super().clean())


class ReviewForm(GuardedForm):
    """What the secretary checks and edits: the public text, category, grid, target group, note, deadline."""

    public_title = forms.CharField(label=_("公开标题"), max_length=60)
    public_description = forms.CharField(
        label=_("公开内容"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("心愿墙上显示的内容：请删去姓名、电话、门牌号等个人信息。"),
    )
    category = forms.ModelChoiceField(label=_("类别"), queryset=WishCategory.objects.none(), empty_label=None)
    grid = CommunityGridChoiceField(label=_("网格"), queryset=Grid.objects.none(), required=False)
    target_group = forms.ChoiceField(label=_("服务对象"), choices=TargetGroup.choices)
    note = forms.CharField(
        label=_("核实情况（内部）"),
        max_length=1000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("如何核实的、居民的实际情况等，只有社区工作人员能看到。"),
    )
    claim_deadline = forms.DateField(
        label=_("认领截止日期"),
        required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text=_("留空为%(days)d天后。") % {"days": settings.WISH_CLAIM_DAYS},
    )

    def __init__(self, *args, wish: MicroWish, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["category"]).queryset = WishCategory.objects.all()
        cast(forms.ModelChoiceField, self.fields["grid"]).queryset = Grid.objects.filter(community=wish.community_id)
        if not self.is_bound:
            self.initial.update(
                public_title=wish.public_title,
                public_description=wish.public_description,
                category=wish.category_id,
                grid=wish.grid_id,
                target_group=wish.target_group,
                note=wish.verification_note,
                claim_deadline=wish.claim_deadline,
            )

    def clean_claim_deadline(self):
        value = self.cleaned_data.get("claim_deadline")
        if value is not None and value < timezone.localdate():
            raise ValidationError(_("认领截止日期不能早于今天。"))
        return value

    def public_fields(self) -> dict:
        data = self.cleaned_data
        return {k: data[k] for k in ("public_title", "public_description", "category", "grid", "target_group")}


class ClaimForm(GuardedForm):
    team = forms.ModelChoiceField(
        label=_("以服务队名义认领（可选）"), queryset=Team.objects.none(), required=False, empty_label=_("个人认领")
    )

    def __init__(self, *args, member=None, **kwargs):
        super().__init__(*args, **kwargs)
        if member is not None:
            self.fields["team"].queryset = Team.objects.filter(leader=member)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleFileInput(attrs={"accept": "image/jpeg,image/png,image/webp"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(d, initial) for d in data if d]
        return [single(data, initial)] if data else []


class FulfilForm(PlainTextMixin, GuardedForm):
    plain_fields = ("note",)

    note = forms.CharField(
        label=_("实现情况"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("做了什么、结果如何。居民会在进度中看到。"),
    )
    start = forms.DateTimeField(
        label=_("服务开始时间"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    end = forms.DateTimeField(
        label=_("服务结束时间"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    hours = forms.DecimalField(
        label=_("服务时长（小时）"),
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
        help_text=_("不含路上时间；留空按开始到结束计算。"),
    )
    photos = MultipleImageField(
        label=_("照片（可选）"),
        required=False,
        help_text=_("最多%(n)d张，JPEG、PNG 或 WebP，每张不超过8MB。请勿拍摄居民的面部或证件。") % {"n": MAX_PHOTOS},
    )

    def clean(self):
        data = self._clean_plain(super().clean())
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            self.add_error("end", _("结束时间必须晚于开始时间。"))
        elif start and end and data.get("hours") is None:
            data["hours"] = round((end - start).total_seconds() / 3600, 2)
        if len(data.get("photos") or []) > MAX_PHOTOS:
            self.add_error("photos", _("最多上传%(n)d张照片。") % {"n": MAX_PHOTOS})
        return data

    def fulfilment(self) -> dict:
        """What `services.wish_fulfil` takes from the form (the page's and the API's)."""
        return {key: self.cleaned_data[key] for key in ("note", "start", "end", "hours", "photos")}


class FeedbackForm(PlainTextMixin, GuardedForm):
    plain_fields = ("comment",)

    RATINGS = [(5, "★★★★★"), (4, "★★★★"), (3, "★★★"), (2, "★★"), (1, "★")]

    rating = forms.TypedChoiceField(
        label=_("满意度"), choices=RATINGS, coerce=int, widget=forms.RadioSelect, required=False
    )
    comment = forms.CharField(
        label=_("意见或说明（可选）"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    website = honeypot_field()

    def clean(self):
        data = self._clean_plain(super().clean())
        if data.get("website"):
            raise ValidationError(_("提交未成功，请刷新页面后重新填写。"), code="honeypot")
        return data


class OfferForm(PlainTextMixin, GuardedForm):
    """A member's service offer (供给清单)."""

    plain_fields = ("title", "description", "available_time")

    title = forms.CharField(label=_("服务内容"), min_length=2, max_length=60, help_text=_("如“上门修理小家电”。"))
    category = forms.ModelChoiceField(label=_("类别"), queryset=WishCategory.objects.none(), empty_label=None)
    description = forms.CharField(
        label=_("说明"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    community = forms.ModelChoiceField(
        label=_("服务范围（社区）"), queryset=Community.objects.none(), required=False, empty_label=_("不限社区")
    )
    available_time = forms.CharField(label=_("服务时间"), max_length=100, required=False)
    team = forms.ModelChoiceField(
        label=_("以服务队名义（可选）"), queryset=Team.objects.none(), required=False, empty_label=_("个人")
    )
    active = forms.BooleanField(label=_("接受点单"), required=False, initial=True)

    def __init__(self, *args, member, offer: ServiceOffer | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        cast(forms.ModelChoiceField, self.fields["category"]).queryset = WishCategory.objects.filter(active=True)
        cast(forms.ModelChoiceField, self.fields["community"]).queryset = Community.objects.order_by("name")
        cast(forms.ModelChoiceField, self.fields["team"]).queryset = Team.objects.filter(leader=member)
        if offer is not None and not self.is_bound:
            self.initial.update(
                title=offer.title,
                category=offer.category_id,
                description=offer.description,
                community=offer.community_id,
                available_time=offer.available_time,
                team=offer.team_id,
                active=offer.active,
            )

    def clean(self):
        return self._clean_plain(super().clean())


class VisitForm(PlainTextMixin, GuardedForm):
    """A pairing visit (走访): when, how long, what was done (no personal data: it goes into the service record)."""

    plain_fields = ("summary",)

    start = forms.DateTimeField(
        label=_("开始时间"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    end = forms.DateTimeField(
        label=_("结束时间"), widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    hours = forms.DecimalField(
        label=_("服务时长（小时）"),
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0.01"),
        required=False,
        help_text=_("不含路上时间；留空按开始到结束计算。"),
    )
    summary = forms.CharField(
        label=_("走访内容"),
        max_length=200,
        help_text=_("如“陪同聊天、打扫卫生、了解近况”。不写服务对象的姓名、住址、病情等个人信息。"),
    )

    def clean(self):
        data = self._clean_plain(super().clean())
        start, end = data.get("start"), data.get("end")
        if start and end and end <= start:
            self.add_error("end", _("结束时间必须晚于开始时间。"))
        elif start and end and data.get("hours") is None:
            data["hours"] = round((end - start).total_seconds() / 3600, 2)
        return data


class HouseholdAdminForm(GuardedModelForm):
    """The household form of the admin: encrypted fields as plain inputs, tags as checkboxes, the two consents."""

    # The service's limits (services.household_save), said on the form: the encrypted columns have none of their own.
    contact_name = forms.CharField(label=_("联系人"), max_length=30)
    address = forms.CharField(label=_("住址"), max_length=200, widget=forms.TextInput(attrs={"size": 60}))
    note = forms.CharField(
        label=_("情况说明"), max_length=1000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    phone = forms.CharField(label=_("联系电话"), max_length=20, required=False)
    priority_group_codes = forms.MultipleChoiceField(
        label=_("重点人群（敏感信息）"),
        choices=PriorityGroup.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    consent_processing = forms.BooleanField(label=_("本人（或监护人）同意登记"), required=False)
    consent_sensitive = forms.BooleanField(
        label=_("本人（或监护人）单独同意登记重点人群信息"),
        required=False,
        help_text=_("残障、特困低保、未满14周岁等属于敏感个人信息，须单独同意。撤回同意时，重点人群信息随之删除。"),
    )

    class Meta:
        model = Household
        fields = ["community", "grid", "contact_name", "address", "note", "active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        instance = self.instance
        if instance.pk and not self.is_bound:
            self.initial.update(
                phone=instance.contact_phone,
                priority_group_codes=instance.priority_group_list,
                consent_processing=True,
                consent_sensitive=instance.consent_sensitive_at is not None,
            )

    def clean_phone(self):
        phone = self.cleaned_data.get("phone", "")
        if phone:
            normalize_mobile(phone)  # the service stores it normalized; here only its message on the form
        return phone

    def clean(self):
        data = super().clean()
        community = data.get("community")
        if community is not None:
            try:
                check_place(community=community, grid=data.get("grid"))
                if not data.get("consent_processing"):
                    raise ValidationError({"consent_processing": _("登记服务对象需要本人（或监护人）同意。")})
                check_priority_groups(data.get("priority_group_codes"), consent_sensitive=data.get("consent_sensitive"))
            except ValidationError as exc:
                add_service_errors(self, exc)
        return data


class BlockedPhoneAdminForm(GuardedModelForm):
    """A platform admin types the number to block; only its blind index and masked form are stored."""

    phone = forms.CharField(
        label=_("手机号"), max_length=20, widget=forms.TextInput(attrs={"inputmode": "tel", "autocomplete": "off"})
    )

    class Meta:
        model = BlockedPhone
        fields = ["reason"]

    def clean_phone(self):
        try:
            return check_phone_format(self.cleaned_data["phone"])
        except ValidationError as exc:
            raise ValidationError(exc.messages) from None


class BlockedNetworkAdminForm(GuardedModelForm):
    class Meta:
        model = BlockedNetwork
        fields = ["network", "reason"]
        help_texts = {"network": _("单个地址（203.0.113.7）或地址段（203.0.113.0/24）。IPv4 最大 /16，IPv6 最大 /32。")}

    def clean_network(self):
        try:
            return check_network(self.cleaned_data["network"])
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["network"]) from None
