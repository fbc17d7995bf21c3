"""Forms of the members app: the availability picker and the admin's forms, which check the services' rules
(`validators.check_*`) in `clean()` so a broken rule is a message on the form, never a failed save."""

from django import forms
from django.core import signing
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from core.forms import GuardedForm, GuardedModelForm

from . import validators
from .availability import SLOT_CHOICES, from_mask, to_mask
from .models import Member, NationalExportBatch, Organization, ServiceRecord, ServiceRecordCorrection, Team


class AvailabilityField(forms.MultipleChoiceField):
    """Checkboxes for weekday × morning/afternoon/evening; the cleaned value is the 21-bit `Member.availability`."""

    widget = forms.CheckboxSelectMultiple

    def __init__(self, **kwargs):
        kwargs.setdefault("required", False)
        super().__init__(choices=SLOT_CHOICES, **kwargs)

    def prepare_value(self, value):
        return from_mask(value) if isinstance(value, int) else value

    def clean(self, value) -> int:
        return to_mask(super().clean(value))

    def has_changed(self, initial, data) -> bool:
        try:
            return to_mask(self.prepare_value(initial) or []) != to_mask(data or [])
        except ValidationError:
            return True


def _add_errors(form: forms.Form, exc: ValidationError) -> None:
    """Attach a service's ValidationError to the form: to its fields when the form has them, else to the form."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class MemberAdminForm(GuardedModelForm):
    phone = forms.CharField(label=_("手机号"), max_length=20)
    # Never shown back: blank keeps the stored number (the help text shows it masked).
    id_number = forms.CharField(label=_("身份证号"), max_length=20, required=False)
    availability = AvailabilityField(label=_("可服务时段"))

    class Meta:
        model = Member
        fields = [
            "name",
            "gender",
            "birth_year",
            "phone",
            "id_number",
            "national_volunteer_number",
            "organization",
            "skills",
            "interests",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.initial["id_number"] = ""
        if self.instance.pk and self.instance.id_number:
            number = self.instance.id_number
            self.fields["id_number"].help_text = _("已登记（%(masked)s）；留空表示不修改。") % {
                "masked": number[:4] + "*" * (len(number) - 8) + number[-4:]
            }

    def clean(self):
        data = super().clean()
        member = self.instance if self.instance.pk else None
        checks = (
            ("phone", validators.check_member_phone),
            ("id_number", validators.check_member_id_number),
            ("national_volunteer_number", validators.check_member_national_number),
        )
        for field, check in checks:
            if data.get(field):
                try:
                    data[field] = check(data[field], member=member)
                except ValidationError as exc:
                    _add_errors(self, exc)
        return data


class OrganizationAdminForm(GuardedModelForm):
    class Meta:
        model = Organization
        fields = [
            "name",
            "type",
            "parent",
            "secretary",
            "contact_name",
            "contact_phone",
            "count_external_hours",
            "admins",
        ]

    def clean(self):
        data = super().clean()
        instance = self.instance if self.instance.pk else None
        parent = data.get("parent", instance.parent if instance else None)
        try:
            if data.get("type"):
                validators.check_organization_placement(type=data["type"], parent=parent, organization=instance)
            if instance is not None and "secretary" in data:
                validators.check_secretary(organization=instance, secretary=data["secretary"])
        except ValidationError as exc:
            _add_errors(self, exc)
        return data


class TeamAdminForm(GuardedModelForm):
    class Meta:
        model = Team
        fields = ["organization", "name", "leader", "members", "description"]

    def clean(self):
        data = super().clean()
        organization = data.get("organization") or (self.instance.organization if self.instance.pk else None)
        if organization is not None:
            try:
                validators.check_team_members(
                    organization=organization, leader=data.get("leader"), members=data.get("members") or []
                )
            except ValidationError as exc:
                _add_errors(self, exc)
        return data


class ServiceRecordAdminForm(GuardedModelForm):
    class Meta:
        model = ServiceRecord
        fields = [
            "member",
            "recording_organization",
            "started_at",
            "ended_at",
            "hours",
            "place",
            "content",
            "beneficiary_summary",
            "evaluation",
            "organizer",
        ]

    def clean(self):
        data = super().clean()
        if data.get("started_at") and data.get("ended_at") and data.get("hours") is not None:
            try:
                data["hours"], self.instance.date = validators.check_service_times(
                    start=data["started_at"], end=data["ended_at"], hours=data["hours"]
                )
            except ValidationError as exc:
                _add_errors(self, exc)
        return data


class CorrectionAdminForm(GuardedModelForm):
    class Meta:
        model = ServiceRecordCorrection
        fields = ["record", "new_started_at", "new_ended_at", "new_hours", "new_place", "new_content", "reason"]

    def clean(self):
        data = super().clean()
        record = data.get("record")
        if record is not None:
            try:
                validators.check_correction(
                    record=record,
                    hours=data.get("new_hours"),
                    start=data.get("new_started_at"),
                    end=data.get("new_ended_at"),
                    place=data.get("new_place", ""),
                    content=data.get("new_content", ""),
                )
            except ValidationError as exc:
                _add_errors(self, exc)
        return data


class TransferActionForm(GuardedForm):
    to_organization = forms.ModelChoiceField(label=_("转入支部"), queryset=Organization.objects.none())
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def __init__(self, *args, organizations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_organization"].queryset = organizations


class DeactivateActionForm(GuardedForm):
    status = forms.ChoiceField(
        label=_("改为"),
        choices=[
            (Member.Status.INACTIVE, Member.Status.INACTIVE.label),
            (Member.Status.EXEMPT, Member.Status.EXEMPT.label),
        ],
    )
    reason = forms.CharField(label=_("原因"), max_length=200)


class ReasonActionForm(GuardedForm):
    reason = forms.CharField(label=_("原因"), max_length=200)


# --- Exchange with the national system (admin) ----------------------------------------------------------------------


class NationalExportForm(GuardedModelForm):
    """The admin's add page of an export batch: which organization's subtree and which period."""

    class Meta:
        model = NationalExportBatch
        fields = ["organization", "period_start", "period_end"]

    def clean(self):
        data = super().clean()
        if data.get("period_start") and data.get("period_end") and data["period_end"] < data["period_start"]:
            self.add_error("period_end", _("结束日期不能早于开始日期。"))
        return data


# The preview posts the file back signed (base64 of it compressed, at worst 4/3 of it): within Django's 2.5 MB
# DATA_UPLOAD_MAX_MEMORY_SIZE for the fields of a form.
EXTERNAL_IMPORT_MAX_BYTES = 3 * 2**19


class ExternalImportForm(GuardedForm):
    """The admin's upload of records kept elsewhere: checked and shown first, saved only when confirmed."""

    organization = forms.ModelChoiceField(
        label=_("导入组织"),
        queryset=Organization.objects.none(),
        help_text=_("记录将由该组织登记；按该组织的规则决定是否计入服务时长。文件中的党员须属于该组织或其下级组织。"),
    )
    origin = forms.CharField(label=_("原记录平台"), max_length=60, initial=_("全国志愿服务信息系统"))
    file = forms.FileField(label=_("文件（.csv 或 .xlsx）"), required=False)
    # After the preview: the same file, signed, so the confirmation saves exactly what was shown.
    content = forms.CharField(widget=forms.HiddenInput, required=False, max_length=2 * EXTERNAL_IMPORT_MAX_BYTES)
    filename = forms.CharField(widget=forms.HiddenInput, required=False, max_length=255)

    def __init__(self, *args, organizations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations

    def clean(self):
        data = super().clean()
        upload = data.get("file")
        if upload is not None:
            if upload.size > EXTERNAL_IMPORT_MAX_BYTES:
                raise ValidationError(_("文件不能超过1.5 MB，请分成几个文件导入。"))
            data["bytes"], data["filename"] = upload.read(), upload.name
        elif data.get("content"):
            try:
                text = signing.loads(data["content"], salt=EXTERNAL_IMPORT_SALT, max_age=3600)
                data["bytes"] = text.encode("latin-1")
            except signing.BadSignature:
                raise ValidationError(_("预览已过期，请重新上传文件。")) from None
        else:
            raise ValidationError(_("请选择要导入的文件。"))
        return data

    @staticmethod
    def sign(content: bytes) -> str:
        return signing.dumps(content.decode("latin-1"), salt=EXTERNAL_IMPORT_SALT, compress=True)


EXTERNAL_IMPORT_SALT = "members.external-import"
