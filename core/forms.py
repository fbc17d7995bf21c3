"""The base of every form of the project, the admin's included: text fields refuse control characters.

Every text field (forms.CharField and its subclasses: regex, e-mail, JSON …) gets core.text's validator when the
form is cleaned, so fields a form adds in its __init__ are covered too. A textarea keeps tab and line breaks; a
single-line field refuses them; a password field keeps Django's NUL check only (it is hashed, never stored as
typed). The validator replaces Django's NUL check, so a NUL gets one message, not two.

Forms inherit `GuardedForm` / `GuardedModelForm` (or the mixin beside another base, as the sign-in forms do);
ModelAdmins and inlines set `form` to a GuardedModelForm. tests/security/test_text_input.py walks every form class
and every registered admin to keep it so.

The same bases give every dropdown a placeholder that says what to choose (请选择社区) instead of Django's
"---------" (`ChoicePlaceholderMixin`), and `NaturalOrderModelChoiceField` lists 第二 before 第三 and 第十.
"""

import re

from django import forms
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.validators import ProhibitNullCharactersValidator
from django.forms.models import ModelChoiceIterator
from django.utils.translation import get_language, gettext

from .sorting import natural_key
from .text import TextValidator

DJANGO_EMPTY_LABEL = "---------"
# A trailing remark in brackets is left out of the placeholder: 网格（不清楚可不选） → 请选择网格.
_TRAILING_REMARK = re.compile(r"\s*[（(][^（()）]*[)）]\s*$")


def add_service_errors(form: forms.Form, exc: ValidationError, *, field: str | None = None) -> None:
    """Attach a service's ValidationError to the form: to its fields when the form has them, else to `field` (the
    form itself by default)."""
    if hasattr(exc, "error_dict"):
        for name, errors in exc.error_dict.items():
            form.add_error(name if name in form.fields else None, errors)
    else:
        form.add_error(field, exc)


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


def choice_placeholder(label) -> str:
    """The empty choice of a dropdown labelled `label`: 请选择 and the label without a trailing remark in brackets."""
    text = _TRAILING_REMARK.sub("", str(label or "")).rstrip("：:")
    return gettext("请选择%(label)s") % {"label": text} if text else gettext("请选择")


class ChoicePlaceholderMixin:
    """Put before the Django form class in the bases: Django's "---------" becomes `choice_placeholder(label)`, in
    model choice fields and in choice lists with a blank entry (a model field's choices with blank=True). A field
    that sets its own empty label keeps it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.ModelMultipleChoiceField):
                continue
            if isinstance(field, forms.ModelChoiceField):
                if field.empty_label == DJANGO_EMPTY_LABEL:
                    field.empty_label = choice_placeholder(field.label)
            elif isinstance(field, forms.ChoiceField) and not isinstance(field, forms.MultipleChoiceField):
                choices = field.choices
                if isinstance(choices, list) and any(label == DJANGO_EMPTY_LABEL for _value, label in choices):
                    placeholder = choice_placeholder(field.label)
                    field.choices = [
                        (value, placeholder if value == "" and label == DJANGO_EMPTY_LABEL else label)
                        for value, label in choices
                    ]


class NaturalOrderChoiceIterator(ModelChoiceIterator):
    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        queryset = self.queryset
        if not queryset._prefetch_related_lookups:
            queryset = queryset.iterator()
        for obj in sorted(queryset, key=self.field.order_key):
            yield self.choice(obj)


class NaturalOrderModelChoiceField(forms.ModelChoiceField):
    """Choices in the order people count them (core.sorting.natural_key of their label), whatever the queryset's
    order: 第一网格, 第二网格, 第三网格 … 第十网格, not 第一、第三、第二."""

    iterator = NaturalOrderChoiceIterator

    def order_key(self, obj) -> tuple:
        return natural_key(str(self.label_from_instance(obj)))


class GuardedForm(TextGuardMixin, ChoicePlaceholderMixin, forms.Form):
    pass


class GuardedModelForm(TextGuardMixin, ChoicePlaceholderMixin, forms.ModelForm):
    pass


# How long the options of a public filter form are kept (`kept_choices`).
CHOICES_TIMEOUT = 60
# Every cache key `kept_choices` has used in this process (`forget_kept_choices`).
_KEPT_KEYS: set[str] = set()


def forget_kept_choices() -> None:
    """Drop every kept list of options: the next form draws them from the database (the query budgets count a page
    as it is drawn first)."""
    cache.delete_many(list(_KEPT_KEYS))


def kept_choices(field: forms.ModelChoiceField, key: str, timeout: int = CHOICES_TIMEOUT) -> None:
    """Draw `field`'s options from a list kept in the shared cache under `key` (per language) for `timeout` seconds,
    built from its queryset when missing; the field still validates a submitted value against its queryset.

    For the filters of the public lists, which offer every community of a district: building the options (a model
    per community, a query joining the published projects) took 16-25 ms of each uncached /projects/ and wall page;
    a community added or renamed shows in the filter within `timeout`."""

    def options() -> list[tuple[str, str]]:  # when the widget is drawn, not when the form is made
        cache_key = f"choices:{key}:{get_language()}"
        _KEPT_KEYS.add(cache_key)
        found = cache.get(cache_key)
        if found is None:
            found = [(str(value), str(label)) for value, label in field.choices if value != ""]  # type: ignore[union-attr,misc]  # a model field's iterator
            cache.set(cache_key, found, timeout)
        empty = [("", field.empty_label)] if field.empty_label is not None else []
        return [*empty, *found]

    field.widget.choices = options
