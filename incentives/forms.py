"""Forms of the incentives app: the member pages' forms and the admin's. Rules are in validators.py (the scope
check of a nomination in the services); `clean()` calls the `check_*` functions so a broken rule is a message on the
form, never a failed save."""

from django import forms
from django.contrib.admin.widgets import AutocompleteSelect
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.forms import GuardedForm, GuardedModelForm, add_service_errors
from members.models import Member

from . import services, validators
from .models import MAX_STARS, CatalogueItem, Commendation, LedgerEntry, Objection, Rule, StarScheme

STAR_CHOICES = [(n, "★" * n if n else _("无星")) for n in range(MAX_STARS + 1)]


class ObjectionForm(GuardedForm):
    text = forms.CharField(
        label=_("异议内容"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("请写明您认为评定有误的地方，例如遗漏的服务记录。"),
    )


# --- Admin ------------------------------------------------------------------------------------------------------


class AdjustForm(GuardedForm):
    """A secretary's manual adjustment; `token` makes a double submit one adjustment."""

    member = forms.ModelChoiceField(label=_("党员"), queryset=Member.objects.none())
    points = forms.IntegerField(
        label=_("调整积分"), help_text=_("正数为增加，负数为扣减。"), min_value=-100000, max_value=100000
    )
    reason = forms.CharField(label=_("调整原因"), max_length=200)
    token = forms.CharField(widget=forms.HiddenInput, max_length=64)

    def __init__(self, *args, members=None, admin_site=None, **kwargs):
        super().__init__(*args, **kwargs)
        if admin_site is not None:
            self.fields["member"].widget = AutocompleteSelect(LedgerEntry._meta.get_field("member"), admin_site)
        self.fields["member"].queryset = members  # after the widget: this also gives the widget its choices

    def clean_points(self):
        points = self.cleaned_data["points"]
        if points == 0:
            raise ValidationError(_("调整的积分不能为 0。"))
        return points


class RuleAdminForm(GuardedModelForm):
    class Meta:
        model = Rule
        fields = ["points", "cap_per_source", "leader_multiplier", "min_quantity", "active", "description"]

    def clean(self):
        data = super().clean()
        try:
            validators.check_rule(
                leader_multiplier=data.get("leader_multiplier"), min_quantity=data.get("min_quantity")
            )
        except ValidationError as exc:
            add_service_errors(self, exc)
        return data


class CatalogueItemAdminForm(GuardedModelForm):
    class Meta:
        model = CatalogueItem
        fields = [
            "kind",
            "name",
            "name_en",
            "description",
            "description_en",
            "pickup_place",
            "points_cost",
            "stock",
            "per_member_limit",
            "opens_at",
            "closes_at",
            "min_star_level",
            "organization",
            "active",
        ]

    def clean(self):
        data = super().clean()
        try:
            validators.check_catalogue_item(
                kind=data.get("kind"),
                min_star_level=data.get("min_star_level") or 0,
                opens_at=data.get("opens_at"),
                closes_at=data.get("closes_at"),
            )
        except ValidationError as exc:
            add_service_errors(self, exc)
        return data


class RestockForm(GuardedForm):
    quantity = forms.IntegerField(
        label=_("增加库存"), help_text=_("负数表示减少。"), min_value=-100000, max_value=100000
    )


class ThresholdsField(forms.CharField):
    """Five numbers separated by commas, e.g. "100, 300, 600, 1000, 1500"."""

    def prepare_value(self, value):
        if isinstance(value, list):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value):
        text = super().to_python(value).replace("，", ",")
        return [part.strip() for part in text.split(",") if part.strip()]


class StarSchemeAdminForm(GuardedModelForm):
    thresholds = ThresholdsField(
        label=_("一至五星门槛"),
        help_text=_("5 个逐级递增的数，用逗号分隔；按时长时单位为小时（默认 100, 300, 600, 1000, 1500）。"),
        max_length=200,
        required=False,
    )

    class Meta:
        model = StarScheme
        fields = ["organization", "basis", "thresholds", "publicity_days"]

    def clean(self):
        data = super().clean()
        if not data.get("thresholds") and data.get("basis"):
            data["thresholds"] = services.default_thresholds(data["basis"])
        try:
            data["thresholds"] = validators.check_thresholds(data.get("thresholds") or [])
        except ValidationError as exc:
            add_service_errors(self, exc)
        return data


class ObjectionAnswerForm(GuardedModelForm):
    new_stars = forms.TypedChoiceField(
        label=_("答复后星级"), choices=STAR_CHOICES, coerce=int, help_text=_("保持不变即维持原评定。")
    )

    class Meta:
        model = Objection
        fields = ["answer"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["answer"].required = True
        if self.instance.pk:
            self.fields["new_stars"].initial = self.instance.rating.stars

    def clean(self):
        data = super().clean()
        if self.instance.pk:
            try:
                validators.check_objection_answerable(self.instance)
            except ValidationError as exc:
                add_service_errors(self, exc)
        return data


class CommendationAdminForm(GuardedModelForm):
    """A nomination; the admin sets `actor` (the signed-in secretary) on the class before use."""

    actor = None

    class Meta:
        model = Commendation
        fields = ["member", "organization", "title", "citation", "awarded_on"]

    def clean(self):
        data = super().clean()
        if data.get("member") and data.get("organization"):
            try:
                services.check_nomination(member=data["member"], organization=data["organization"], actor=self.actor)
            except ValidationError as exc:
                add_service_errors(self, exc)
        return data


class RedemptionCancelForm(GuardedForm):
    reason = forms.CharField(label=_("取消原因"), max_length=200)


class ReverseForm(GuardedForm):
    reason = forms.CharField(label=_("冲正原因"), max_length=200)


class DeclineForm(GuardedForm):
    reason = forms.CharField(label=_("不予批准的原因"), max_length=200)
