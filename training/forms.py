"""Forms of the training pages. They check the rules in `clean()` (`validators.check_*`, the file checks in `files`),
so bad input is a message on the form and the service, which checks again inside its transaction, saves nothing."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.forms import GuardedForm, add_service_errors
from members.models import Member
from members.selectors import visible_members

from . import selectors
from .files import EVIDENCE_EXTENSIONS, validate_evidence_file
from .models import Course, Enrollment
from .validators import check_external_training


class MemberChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Member) -> str:
        return f"{obj.name}（{obj.volunteer_number}，{obj.organization.name}）"


class ExternalTrainingForm(GuardedForm):
    """A secretary records a training a member of their scope took elsewhere, with evidence."""

    member = MemberChoiceField(label=_("党员"), queryset=Member.objects.none())
    course = forms.ModelChoiceField(label=_("培训课程"), queryset=Course.objects.none())
    hours = forms.DecimalField(label=_("学时"), max_digits=5, decimal_places=2, min_value=0.01)
    completed_on = forms.DateField(label=_("完成日期"), widget=forms.DateInput(attrs={"type": "date"}))
    score = forms.DecimalField(
        label=_("成绩"), max_digits=5, decimal_places=1, min_value=0, max_value=100, required=False
    )
    provider = forms.CharField(label=_("培训机构"), max_length=100, required=False)
    evidence = forms.FileField(
        label=_("证明材料"),
        help_text=_("结业证书、培训通知等的扫描件或照片（PDF、JPG、PNG，不超过10MB）。"),
        widget=forms.ClearableFileInput(attrs={"accept": ",".join(EVIDENCE_EXTENSIONS)}),
    )
    note = forms.CharField(label=_("备注"), max_length=200, required=False)

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["member"].queryset = (
            visible_members(user)
            .filter(status=Member.Status.ACTIVE)
            .select_related("organization")
            .order_by("organization__path", "name")
        )
        self.fields["course"].queryset = selectors.visible_courses(user).order_by("type", "title")

    def clean_evidence(self):
        evidence = self.cleaned_data["evidence"]
        validate_evidence_file(evidence)
        return evidence

    def clean(self):
        data = super().clean()
        if all(data.get(f) is not None for f in ("member", "hours", "completed_on")):
            try:
                check_external_training(
                    member=data["member"],
                    hours=data["hours"],
                    completed_on=data["completed_on"],
                    score=data.get("score"),
                )
            except ValidationError as exc:
                add_service_errors(self, exc)
        return data


class AttendanceForm(GuardedForm):
    """The attendance sheet: one checkbox per member holding a seat; unticked means absent."""

    attended = forms.TypedMultipleChoiceField(
        label=_("到场"), coerce=int, required=False, widget=forms.CheckboxSelectMultiple
    )

    def __init__(self, *args, enrollments: list[Enrollment], **kwargs):
        super().__init__(*args, **kwargs)
        self.enrollments = enrollments
        attended = self.fields["attended"]
        assert isinstance(attended, forms.MultipleChoiceField)
        attended.choices = [(e.member_id, e.member.name) for e in enrollments]
        if not self.is_bound:
            self.initial["attended"] = [e.member_id for e in enrollments if e.status == Enrollment.Status.ATTENDED]

    def split(self) -> tuple[list[int], list[int]]:
        """(attended, absent) member ids from the ticked boxes."""
        attended = set(self.cleaned_data["attended"])
        return sorted(attended), sorted(e.member_id for e in self.enrollments if e.member_id not in attended)


class CompletionFilterForm(GuardedForm):
    """Which organization and year the completion report shows (GET)."""

    organization: forms.ModelChoiceField = forms.ModelChoiceField(label=_("党组织"), queryset=None, required=False)
    year = forms.IntegerField(label=_("年度"), min_value=2000, max_value=2100, required=False)

    def __init__(self, *args, organizations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations
        self.fields["organization"].empty_label = None

    def clean_year(self):
        return self.cleaned_data.get("year") or timezone.localdate().year
