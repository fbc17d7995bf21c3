"""Forms of the projects pages and admin. They check the services' rules in `clean()` (`validators.check_*`), so bad
input is a message on the form and the service, which checks again inside its transaction, saves nothing."""

from datetime import datetime, timedelta

from django import forms
from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from core.forms import GuardedForm, GuardedModelForm, add_service_errors, kept_choices
from core.widgets import QuickSelect
from members.models import Community

from . import services
from .models import (
    Activity,
    Post,
    PostClaim,
    ProjectCategory,
    ServiceMode,
    ServiceProject,
    SignUp,
    TargetGroup,
    target_group_codes,
    target_groups_mask,
)
from .selectors import ProjectFilters
from .validators import (
    CHECKIN_RADIUS_MAX,
    CHECKIN_RADIUS_MIN,
    check_activity,
    check_activity_start,
    check_checkin_place,
    check_project,
    check_self_report,
    clean_logo,
)

# The messages of ServiceProject's recurrence CHECKs (check_project says the same per field).
RECURRENCE_MESSAGES = {
    str(c.violation_error_message)
    for c in ServiceProject._meta.constraints
    if c.name in ("projects_project_recurrence_complete", "projects_project_monthly_week")
}


class ProjectFilterForm(GuardedForm):
    """The filters of /projects/ (GET). Invalid values are dropped, never an error page."""

    category = forms.ModelChoiceField(
        label=_("类别"), queryset=ProjectCategory.objects.none(), required=False, widget=QuickSelect
    )
    mode = forms.ChoiceField(label=_("服务方式"), required=False, widget=QuickSelect)
    target_group = forms.ChoiceField(label=_("服务对象"), required=False, widget=QuickSelect)
    community = forms.ModelChoiceField(
        label=_("社区（村）"), queryset=Community.objects.none(), required=False, widget=QuickSelect
    )
    date_from = forms.DateField(label=_("从"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(label=_("到"), required=False, widget=forms.DateInput(attrs={"type": "date"}))
    matches = forms.BooleanField(label=_("符合我的特长或兴趣"), required=False)
    seats = forms.BooleanField(label=_("还有名额"), required=False)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = ProjectCategory.objects.filter(active=True)
        self.fields["category"].empty_label = _("全部")
        self.fields["mode"].choices = [("", _("全部")), *ServiceMode.choices]
        self.fields["target_group"].choices = [("", _("全部")), *TargetGroup.choices]
        self.fields["community"].queryset = Community.objects.filter(
            service_projects__status=ServiceProject.Status.PUBLISHED
        ).distinct()
        self.fields["community"].empty_label = _("全部")
        kept_choices(self.fields["category"], "projects:filter:category")
        kept_choices(self.fields["community"], "projects:filter:community")
        for field in self.fields.values():
            if isinstance(field.widget, forms.Select):
                field.widget.attrs["class"] = "form-select form-select-sm"
            elif not isinstance(field.widget, forms.CheckboxInput):
                field.widget.attrs["class"] = "form-control form-control-sm"

    def filters(self) -> ProjectFilters:
        data = self.cleaned_data if self.is_valid() else {}
        if not data:
            # Keep whatever parsed: a bad date must not drop the category the visitor chose.
            data = {k: v for k, v in getattr(self, "cleaned_data", {}).items() if k not in self.errors}
        return ProjectFilters(
            category=data["category"].pk if data.get("category") else None,
            mode=data.get("mode") or "",
            target_group=data.get("target_group") or "",
            community=data["community"].pk if data.get("community") else None,
            date_from=data.get("date_from"),
            date_to=data.get("date_to"),
            matches=bool(data.get("matches")),
            seats=bool(data.get("seats")),
        )


class CheckInForm(GuardedForm):
    """Check-in or sign-out: the scanned QR code's token (hidden) or the typed 6-digit code, and the position the
    phone reported (hidden, filled by static/js/checkin.js when the member allows it)."""

    code = forms.CharField(
        label=_("签到码"),
        required=False,
        min_length=6,
        max_length=6,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9]{6}"}),
    )
    token = forms.CharField(required=False, max_length=40, widget=forms.HiddenInput)
    latitude = forms.FloatField(required=False, min_value=-90, max_value=90, widget=forms.HiddenInput)
    longitude = forms.FloatField(required=False, min_value=-180, max_value=180, widget=forms.HiddenInput)

    def clean(self):
        data = super().clean()
        if not data.get("token") and not data.get("code") and "code" not in self.errors:
            self.add_error("code", _("请扫描组织者手机上的签到二维码，或输入签到码。"))
        return data

    def position(self) -> services.Position | None:
        latitude, longitude = self.cleaned_data.get("latitude"), self.cleaned_data.get("longitude")
        if latitude is None or longitude is None:
            return None
        return services.Position(latitude=latitude, longitude=longitude)


class CheckinPlaceForm(GuardedForm):
    """The organizer's check-in place: their phone's position (hidden, filled by static/js/checkin-screen.js) and
    a radius; or `clear`."""

    latitude = forms.DecimalField(required=False, widget=forms.HiddenInput)  # rounded to 6 places by the view
    longitude = forms.DecimalField(required=False, widget=forms.HiddenInput)
    checkin_radius_m = forms.IntegerField(label=_("签到范围（米）"), required=False)
    clear = forms.BooleanField(required=False)

    def clean(self):
        data = super().clean()
        if data.get("clear"):
            data["latitude"] = data["longitude"] = data["checkin_radius_m"] = None
        elif data.get("latitude") is None or data.get("longitude") is None:
            raise ValidationError(_("没有取得您手机的位置：请在浏览器中允许定位后重试。"))
        return data


class PostSkipForm(GuardedForm):
    """The date a post's claimer will not serve (请假), as YYYY-MM-DD."""

    day = forms.DateField(
        label=_("请假日期"),
        input_formats=["%Y-%m-%d"],
        error_messages={"required": _("请选择请假日期。"), "invalid": _("请选择请假日期。")},
    )


class SelfReportForm(GuardedForm):
    """自主申报: what a member did offline, when, where and for how long."""

    project = forms.ModelChoiceField(
        label=_("服务项目"),
        queryset=ServiceProject.objects.none(),
        required=False,
        help_text=_("属于某个服务项目时请选择，由该项目的组织单位审核；否则由您所在的支部审核。"),
    )
    date = forms.DateField(label=_("服务日期"), widget=forms.DateInput(attrs={"type": "date"}))
    start = forms.TimeField(label=_("开始时间"), widget=forms.TimeInput(attrs={"type": "time"}))
    end = forms.TimeField(label=_("结束时间"), widget=forms.TimeInput(attrs={"type": "time"}))
    hours = forms.DecimalField(
        label=_("服务时长（小时）"),
        max_digits=5,
        decimal_places=2,
        min_value=0.01,
        help_text=_("实际服务时间，不含往返路途。"),
    )
    place = forms.CharField(label=_("服务地点"), max_length=200)
    content = forms.CharField(label=_("服务内容"), max_length=2000, widget=forms.Textarea(attrs={"rows": 3}))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["project"].queryset = ServiceProject.objects.filter(
            status=ServiceProject.Status.PUBLISHED
        ).order_by("title")

    def clean(self):
        data = super().clean()
        if all(data.get(k) is not None for k in ("date", "start", "end", "hours")):
            start = timezone.make_aware(datetime.combine(data["date"], data["start"]))
            end = timezone.make_aware(datetime.combine(data["date"], data["end"]))
            if end <= start:
                end += timedelta(days=1)  # past midnight
            data["started_at"], data["ended_at"] = start, end
            try:
                check_self_report(
                    started_at=start,
                    ended_at=end,
                    hours=data["hours"],
                    place=data.get("place", ""),
                    content=data.get("content", ""),
                )
            except ValidationError as exc:
                add_service_errors(self, exc)
        return data


# --- Admin ------------------------------------------------------------------------------------------------------


class ServiceProjectAdminForm(GuardedModelForm):
    """The project's target groups as checkboxes (stored as a bit mask); the service's rules in clean()."""

    target_groups = forms.MultipleChoiceField(
        label=_("服务对象"), choices=TargetGroup.choices, required=False, widget=forms.CheckboxSelectMultiple
    )

    class Meta:
        model = ServiceProject
        fields = (
            "slug",
            "title",
            "brand_name",
            "slogan",
            "logo",
            "category",
            "service_mode",
            "target_groups",
            "organization",
            "community",
            "grid",
            "place",
            "description",
            "skills_wanted",
            "course_required",
            "status",
            "recurrence",
            "recurrence_weekday",
            "recurrence_week",
            "recurrence_time",
            "recurrence_minutes",
            "recurrence_capacity",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Bound too: the change message compares the posted list with this (the model's bit mask was an int: 500).
        self.initial["target_groups"] = target_group_codes(self.instance.target_groups)

    def clean_target_groups(self):
        return target_groups_mask(self.cleaned_data.get("target_groups") or [])

    def clean_logo(self):
        logo = self.cleaned_data.get("logo")
        if logo and isinstance(logo, UploadedFile):
            clean_logo(logo)  # the service re-encodes it again when saving
        return logo

    def _post_clean(self):
        super()._post_clean()  # fills the instance and validates the model's constraints
        try:
            check_project(project=self.instance)
        except ValidationError as exc:
            # The same rule as the recurrence CHECKs, said field by field: drop the CHECKs' general message.
            general = self._errors.get(NON_FIELD_ERRORS) if self._errors else None
            if general is not None:
                rest = [e for e in general if e not in RECURRENCE_MESSAGES]
                if rest:
                    self._errors[NON_FIELD_ERRORS] = self.error_class(rest)
                else:
                    del self._errors[NON_FIELD_ERRORS]
            add_service_errors(self, exc)


class ActivityAdminForm(GuardedModelForm):
    """Times and seats checked as the service does; the windows default like `services.activity_create`
    (`services.activity_windows`). A new activity, or one moved to another time, must start in the future: the
    admin schedules activities for members to sign up to, so a start already passed is a mistake to correct here."""

    class Meta:
        model = Activity
        fields = (
            "project",
            "title",
            "leader",
            "starts_at",
            "ends_at",
            "place",
            "capacity",
            "signup_opens_at",
            "signup_closes_at",
            "cancel_cutoff_at",
            "latitude",
            "longitude",
            "checkin_radius_m",
            "signout_required",
        )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "checkin_radius_m" in self.fields:
            self.fields["checkin_radius_m"].help_text = _(
                "可选。填写签到点的纬度、经度和范围（%(low)d–%(high)d 米）后，手机定位在范围外的党员不能签到；"
                "不允许定位的党员仍可签到，在考勤表上标记为“未提供位置”。坐标用手机定位的 WGS-84 坐标"
                "（高德、百度地图上取的坐标有数百米偏移）。"
            ) % {"low": CHECKIN_RADIUS_MIN, "high": CHECKIN_RADIUS_MAX}
        for name in ("signup_opens_at", "signup_closes_at", "cancel_cutoff_at", "place"):
            if name in self.fields:
                self.fields[name].required = False
        if "place" in self.fields:
            self.fields["place"].help_text = _("不填则使用项目的服务地点。")
        for name in ("signup_opens_at", "signup_closes_at", "cancel_cutoff_at"):
            if name in self.fields:
                self.fields[name].help_text = _(
                    "不填：报名即日开始、活动开始时截止，活动开始前24小时后取消记为逾期取消。"
                )

    def clean(self):
        data = super().clean()
        now = timezone.now()
        editing = self.instance.pk is not None
        if editing:  # an edit keeps the windows left empty as they were
            for name in ("signup_opens_at", "signup_closes_at", "cancel_cutoff_at"):
                data[name] = data.get(name) or getattr(self.instance, name)
        starts_at = data.get("starts_at")
        if starts_at and not (editing and starts_at == self.instance.starts_at):
            try:
                check_activity_start(starts_at=starts_at, now=now)
            except ValidationError as exc:
                add_service_errors(self, exc)
                return data
        if starts_at and data.get("ends_at"):
            try:
                opens, closes, cutoff = services.activity_windows(
                    starts_at=starts_at,
                    signup_opens_at=data.get("signup_opens_at"),
                    signup_closes_at=data.get("signup_closes_at"),
                    cancel_cutoff_at=data.get("cancel_cutoff_at"),
                    now=now,
                )
                check_activity(
                    starts_at=data["starts_at"],
                    ends_at=data["ends_at"],
                    capacity=data.get("capacity"),
                    signup_opens_at=opens,
                    signup_closes_at=closes,
                    cancel_cutoff_at=cutoff,
                )
            except ValidationError as exc:
                add_service_errors(self, exc)
            else:
                data["signup_opens_at"], data["signup_closes_at"], data["cancel_cutoff_at"] = opens, closes, cutoff
        place_fields = ("latitude", "longitude", "checkin_radius_m")
        try:
            if not any(name in self.errors for name in place_fields):
                check_checkin_place(
                    latitude=data.get("latitude"),
                    longitude=data.get("longitude"),
                    checkin_radius_m=data.get("checkin_radius_m"),
                )
        except ValidationError as exc:
            add_service_errors(self, exc)
        if editing:
            if self.instance.status != Activity.Status.SCHEDULED:
                raise ValidationError(_("已取消或已记录考勤的活动不能修改。"))
            taken = self.instance.signups.filter(status__in=SignUp.SEAT_STATUSES).count()
            if data.get("capacity") is not None and data["capacity"] < taken:
                self.add_error("capacity", _("已有 %(taken)d 人报名，名额不能少于报名人数。") % {"taken": taken})
        return data


class PostInlineForm(GuardedModelForm):
    """A post's places are never below its active claims (the service says so again under the post lock)."""

    class Meta:
        model = Post
        fields = ("title", "weekday", "start_time", "minutes", "places", "description", "active")

    def clean(self):
        data = super().clean()
        places = data.get("places")
        if self.instance.pk is not None and places is not None:
            claimed = self.instance.claims.filter(status=PostClaim.Status.ACTIVE).count()
            if places < claimed:
                self.add_error("places", _("已有 %(n)d 人认领，岗位数不能少于认领人数。") % {"n": claimed})
        return data


def attendance_marks(data, rows) -> dict[int, tuple[str, str | None]]:
    """The attendance sheet's marks as `services.attendance_submit` takes them, read from the sheet's fields
    `mark-<sign-up id>` (attended / no_show; anything else is no mark) and `hours-<sign-up id>` (blank: the default
    hours), for the seat holders in `rows` only. The page and the API read them alike."""
    marks: dict[int, tuple[str, str | None]] = {}
    for signup in rows:
        mark = str(data.get(f"mark-{signup.pk}") or "")
        if mark in (SignUp.Status.ATTENDED, SignUp.Status.NO_SHOW):
            marks[signup.pk] = (mark, str(data.get(f"hours-{signup.pk}") or "").strip() or None)
    return marks
