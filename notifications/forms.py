from django import forms
from django.utils.translation import gettext_lazy as _

from core.forms import GuardedForm

from .kinds import EMAIL, KINDS, OPTIONAL_CHANNELS, SMS

CHANNEL_LABELS = {EMAIL: _("邮件"), SMS: _("短信")}


class PreferencesForm(GuardedForm):
    """One checkbox per kind of message and optional channel (email, SMS); in-app is always on and not a field."""

    def __init__(self, *args, current: dict[str, frozenset[str]], **kwargs):
        super().__init__(*args, **kwargs)
        for key, kind in KINDS.items():
            for channel in OPTIONAL_CHANNELS:
                self.fields[self.field_name(key, channel)] = forms.BooleanField(
                    required=False,
                    initial=channel in current[key],
                    label=_("%(kind)s：%(channel)s") % {"kind": kind.label, "channel": CHANNEL_LABELS[channel]},
                )

    @staticmethod
    def field_name(kind: str, channel: str) -> str:
        return f"{kind}-{channel}"

    def rows(self):
        """(kind, [(channel label, bound field), …]) for the template, in the registry's order."""
        return [
            (kind, [(CHANNEL_LABELS[c], self[self.field_name(key, c)]) for c in OPTIONAL_CHANNELS])
            for key, kind in KINDS.items()
        ]

    def choices(self) -> dict[str, set[str]]:
        """kind → the optional channels ticked (after is_valid)."""
        return {key: {c for c in OPTIONAL_CHANNELS if self.cleaned_data[self.field_name(key, c)]} for key in KINDS}
