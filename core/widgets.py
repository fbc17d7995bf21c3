"""The admin's autocomplete widgets, drawing a refused form again without looking up values that are no id.

Django's AutocompleteSelect(Multiple) looks the submitted values up as they are to show them selected: a posted
`undefined` in a foreign key to an integer id raised ValueError while the form with its error was drawn (500).
Here only values the target field accepts are looked up; the form field itself still says the choice is invalid.
"""

from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError


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
