"""Forms of the member portal (/me/…, the invitation page): they show the services' rules as messages on the form;
the views pass the cleaned data to `members.services`."""

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.forms import GuardedForm

from . import validators
from .availability import DAYS, PERIODS
from .forms import AvailabilityField, _add_errors
from .models import Community, Gender, Grid, Member, ServiceRecord, Tag


class ProfileForm(GuardedForm):
    """What a member fills in about themselves: name, gender, birth year, skills, interests, availability and the
    separate consent to show their full name publicly."""

    name = forms.CharField(label=_("姓名"), max_length=50)
    gender = forms.ChoiceField(label=_("性别"), choices=[("", _("不填写")), *Gender.choices], required=False)
    birth_year = forms.IntegerField(label=_("出生年份"), required=False, min_value=1900)
    skills = forms.ModelMultipleChoiceField(
        label=_("特长"),
        queryset=Tag.objects.filter(kind=Tag.Kind.SKILL),
        widget=forms.CheckboxSelectMultiple,
        required=False,
        help_text=_("用于为您推荐合适的服务项目和微心愿。"),
    )
    interests = forms.ModelMultipleChoiceField(
        label=_("兴趣"),
        queryset=Tag.objects.filter(kind=Tag.Kind.INTEREST),
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    availability = AvailabilityField(label=_("可服务时段"), help_text=_("勾选每周通常可以参加服务的时段。"))
    show_full_name_publicly = forms.BooleanField(
        label=_("同意在公开页面显示我的全名"),
        required=False,
        help_text=_("不同意时，公开页面只显示姓氏加“**”（如“张**”）。您可以随时撤回。"),
    )

    def __init__(self, *args, member: Member, **kwargs):
        super().__init__(*args, **kwargs)
        self.member = member
        # The upper bound is this year, so the field is built per form (it replaces the class one in place).
        self.fields["birth_year"] = forms.IntegerField(
            label=_("出生年份"), required=False, min_value=1900, max_value=timezone.localdate().year
        )
        if not self.is_bound:
            self.initial.update(
                name=member.name,
                gender=member.gender,
                birth_year=member.birth_year,
                skills=[tag.pk for tag in member.skills.all()],
                interests=[tag.pk for tag in member.interests.all()],
                availability=member.availability,
                show_full_name_publicly=member.show_full_name_publicly,
            )

    def availability_rows(self):
        """The availability checkboxes as a week grid: [(day label, [checkbox for 上午, 下午, 晚上])]."""
        boxes = list(self["availability"])
        width = len(PERIODS)
        return [(label, boxes[i * width : (i + 1) * width]) for i, (_code, label) in enumerate(DAYS)]

    @property
    def period_labels(self):
        return [label for _code, label in PERIODS]

    def profile_data(self) -> dict:
        data = self.cleaned_data
        return {
            "name": data["name"],
            "gender": data["gender"],
            "birth_year": data["birth_year"],
            "skills": list(data["skills"]),
            "interests": list(data["interests"]),
            "availability": data["availability"],
            "show_full_name_publicly": data["show_full_name_publicly"],
        }


class OwnProfileForm(ProfileForm):
    """/me/profile/: the profile plus the mobile number (sign-in and SMS), unique among members."""

    phone = forms.CharField(label=_("手机号"), max_length=20, help_text=_("用于登录和接收服务通知。"))

    field_order = ["name", "phone"]

    def __init__(self, *args, member: Member, **kwargs):
        super().__init__(*args, member=member, **kwargs)
        if not self.is_bound:
            self.initial["phone"] = member.phone

    def clean_phone(self):
        try:
            return validators.check_member_phone(self.cleaned_data["phone"], member=self.member)
        except ValidationError as exc:
            raise ValidationError(exc.message_dict["phone"]) from None

    def profile_data(self) -> dict:
        return {**super().profile_data(), "phone": self.cleaned_data["phone"]}


class GridChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return f"{obj.community.name} · {obj.name}"


class ResidenceForm(GuardedForm):
    """双报到: the community (社区/村) the member lives in and, optionally, their grid there."""

    community = forms.ModelChoiceField(
        label=_("居住社区（村）"), queryset=Community.objects.order_by("name"), empty_label=_("请选择")
    )
    grid = GridChoiceField(
        label=_("网格"),
        queryset=Grid.objects.select_related("community").order_by("community__name", "name"),
        required=False,
        empty_label=_("不确定 / 不填写"),
        help_text=_("可不填，由社区确认时补充。"),
    )

    def clean(self):
        data = super().clean()
        community, grid = data.get("community"), data.get("grid")
        if community is not None and grid is not None and grid.community_id != community.pk:
            self.add_error("grid", _("所选网格不属于该社区（村）。"))
        return data


class DeletionRequestForm(GuardedForm):
    """A member asks for their personal information to be deleted: an optional reason and an explicit confirmation
    of what follows (the account closes; service records stay for the statistics, without the name)."""

    reason = forms.CharField(
        label=_("申请理由（选填）"), max_length=500, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    confirm = forms.BooleanField(
        label=_("我已了解：批准后我的账号将被注销，姓名、手机号等个人信息将被删除，服务记录仅以匿名方式保留用于统计。"),
        error_messages={"required": _("请勾选确认后再提交。")},
    )


def _local_input(**kwargs) -> forms.DateTimeField:
    return forms.DateTimeField(
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"), required=False, **kwargs
    )


class OwnCorrectionForm(GuardedForm):
    """A member asks the recording organization to correct one of their confirmed records (《志愿服务记录与证明出具
    办法》: the volunteer may ask for a correction). Only what changes is filled in; a reason is required."""

    new_hours = forms.DecimalField(
        label=_("更正后时长（小时）"), required=False, max_digits=5, decimal_places=2, min_value=Decimal("0.01")
    )
    new_started_at = _local_input(label=_("更正后开始时间"))
    new_ended_at = _local_input(label=_("更正后结束时间"))
    new_place = forms.CharField(label=_("更正后地点"), max_length=200, required=False)
    new_content = forms.CharField(
        label=_("更正后内容"), max_length=2000, required=False, widget=forms.Textarea(attrs={"rows": 3})
    )
    reason = forms.CharField(
        label=_("更正理由"),
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text=_("请说明哪里不对，例如“实际服务到 17:30，共 3.5 小时”。书记审核后会通知您结果。"),
    )

    def __init__(self, *args, record: ServiceRecord, **kwargs):
        super().__init__(*args, **kwargs)
        self.record = record

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            validators.check_correction(
                record=self.record,
                hours=data.get("new_hours"),
                start=data.get("new_started_at"),
                end=data.get("new_ended_at"),
                place=data.get("new_place", ""),
                content=data.get("new_content", ""),
            )
        except ValidationError as exc:
            _add_errors(self, exc)
        return data

    def correction_data(self) -> dict:
        data = self.cleaned_data
        return {
            "reason": data["reason"],
            "hours": data.get("new_hours"),
            "start": data.get("new_started_at"),
            "end": data.get("new_ended_at"),
            "place": data.get("new_place", ""),
            "content": data.get("new_content", ""),
        }


class RecordPeriodForm(GuardedForm):
    """/me/records/?from=…&to=…: the records of a period and their counted hours. Bad dates are answered on the
    form and the whole list is shown."""

    start = forms.DateField(label=_("从"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(label=_("至"), required=False, widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data=None, **kwargs):
        if data is not None:
            data = {"start": data.get("from", ""), "end": data.get("to", "")}
        super().__init__(data, **kwargs)

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise ValidationError(_("开始日期不能晚于结束日期。"))
        return data
