"""Widgets: the admin's autocomplete widgets, drawing a refused form again without looking up values that are no id;
and a select drawn without a template per option (`QuickSelect`).

Django's AutocompleteSelect(Multiple) looks the submitted values up as they are to show them selected: a posted
`undefined` in a foreign key to an integer id raised ValueError while the form with its error was drawn (500).
Here only values the target field accepts are looked up; the form field itself still says the choice is invalid.
"""

from django import forms
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError
from django.forms.utils import flatatt
from django.utils.html import escape, format_html
from django.utils.safestring import mark_safe


class _LooksUpValidValuesOnly:
    def optgroups(self, name, value, attr=None):
        remote = self.field.remote_field
        target = remote.model._meta.get_field(getattr(remote, "field_name", None) or remote.model._meta.pk.name)
        kept = []
        for item in value:
            if "\x00" in str(item):
                continue
            try:
                target.to_python(item)
            except ValidationError:
                continue
            kept.append(item)
        return super().optgroups(name, kept, attr)


class SafeAutocompleteSelect(_LooksUpValidValuesOnly, AutocompleteSelect):
    pass


class SafeAutocompleteSelectMultiple(_LooksUpValidValuesOnly, AutocompleteSelectMultiple):
    pass


class QuickSelect(forms.Select):
    """Django's Select with the same options and attributes, drawn in Python instead of through a template include
    per option: the filter forms of /projects/ and of the wall offer every community (a district has about a hundred),
    and their option templates took most of those pages' rendering (cProfile of /projects/ rendered, the district)."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        parts = [format_html('<select name="{}"{}>', widget["name"], flatatt(widget["attrs"]))]
        for group, options, _index in widget["optgroups"]:
            if group:
                parts.append(format_html('<optgroup label="{}">', group))
            parts.extend(_option(option) for option in options)
            if group:
                parts.append("</optgroup>")
        parts.append("</select>")
        return mark_safe("".join(parts))  # every value above went through escape() or format_html


def _option(option: dict) -> str:
    """One <option>, escaped. A Select's option carries no attribute but `selected` (Django's ChoiceWidget); any other
    goes through flatatt. escape() and an f-string instead of format_html and flatatt per option: the district's
    hundred communities cost 8.3 ms of /projects/'s rendering through those, 2.6 ms this way (its four selects)."""
    attrs = option["attrs"]
    only_selected = not attrs or set(attrs) == {"selected"}
    extra = (" selected" if attrs.get("selected") else "") if only_selected else flatatt(attrs)
    return f'<option value="{escape(option["value"])}"{extra}>{escape(option["label"])}</option>'
