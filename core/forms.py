"""The base of every form of the project, the admin's included: text fields refuse control characters.

Every text field (forms.CharField and its subclasses: regex, e-mail, JSON …) gets core.text's validator when the
form is cleaned, so fields a form adds in its __init__ are covered too. A textarea keeps tab and line breaks; a
single-line field refuses them; a password field keeps Django's NUL check only (it is hashed, never stored as
typed). The validator replaces Django's NUL check, so a NUL gets one message, not two.

Forms inherit `GuardedForm` / `GuardedModelForm` (or the mixin beside another base, as the sign-in forms do);
ModelAdmins and inlines set `form` to a GuardedModelForm. tests/security/test_text_input.py walks every form class
and every registered admin to keep it so.
"""

from django import forms
from django.core.validators import ProhibitNullCharactersValidator

from .text import TextValidator


def guard_text_field(field: forms.Field) -> None:
    """Give `field` core.text's validator if it takes text (idempotent)."""
    if not isinstance(field, forms.CharField) or isinstance(field.widget, forms.PasswordInput):
        return
    if any(isinstance(validator, TextValidator) for validator in field.validators):
        return
    kept = [v for v in field.validators if not isinstance(v, ProhibitNullCharactersValidator)]
    field.validators = [*kept, TextValidator(multiline=isinstance(field.widget, forms.Textarea))]


class TextGuardMixin:
    """Put before the Django form class in the bases."""

    def full_clean(self):
        for field in self.fields.values():
            guard_text_field(field)
        super().full_clean()


class GuardedForm(TextGuardMixin, forms.Form):
    pass


class GuardedModelForm(TextGuardMixin, forms.ModelForm):
    pass
