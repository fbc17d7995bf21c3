"""Forms of the news app: the admin's news form and the secretary's broadcast form (two steps: write, confirm)."""

from django import forms
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext_lazy as _

from core.forms import GuardedForm, GuardedModelForm
from members.models import Organization

from .models import Broadcast, News
from .photos import EXTENSIONS, check_photo


class NewsAdminForm(GuardedModelForm):
    """A draft: the photo is checked here (the message on the form) and again by the service that stores it."""

    class Meta:
        model = News
        fields = ["kind", "organization", "audience", "title", "body", "photo", "photo_caption"]
        widgets = {
            "body": forms.Textarea(attrs={"rows": 10}),
            "photo": forms.ClearableFileInput(attrs={"accept": ",".join(EXTENSIONS)}),
        }

    def clean_photo(self):
        photo = self.cleaned_data.get("photo")
        if isinstance(photo, UploadedFile):
            check_photo(photo)  # raises the reason; what is stored is the service's re-encoded copy
        return photo


class BroadcastForm(GuardedForm):
    """Step one: who and what. Step two shows the count and posts the same fields with `confirm`."""

    organization = forms.ModelChoiceField(
        label=_("发送给"), queryset=Organization.objects.none(), help_text=_("该组织及其下级组织的全体党员。")
    )
    subject = forms.CharField(label=_("标题"), max_length=Broadcast._meta.get_field("subject").max_length)
    body = forms.CharField(
        label=_("内容"),
        max_length=Broadcast._meta.get_field("body").max_length,
        widget=forms.Textarea(attrs={"rows": 6}),
        help_text=_("站内消息显示全文；短信只含标题和内容的前 120 个字。"),
    )
    request_key = forms.UUIDField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, organizations, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["organization"].queryset = organizations
