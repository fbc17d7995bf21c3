"""Text that people type, before it reaches PostgreSQL: no NUL and no other control characters.

PostgreSQL refuses NUL in text and jsonb (a 500 if it gets that far); the other C0 controls and DEL are stored but
never meant: they break exports, SMS gateways and log lines. A multi-line field (a textarea) keeps tab, line feed
and carriage return; a single-line field has none of them. Forms apply this to every text field through
core.forms.TextGuardMixin; a view that reads a text parameter without a form calls `check_text` itself.
"""

import re
from collections.abc import Mapping
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.utils.deconstruct import deconstructible
from django.utils.translation import gettext_lazy as _

# C0 controls and DEL; the multi-line pattern leaves out \t \n \r.
_CONTROL_SINGLE_LINE = re.compile(r"[\x00-\x1f\x7f]")
_CONTROL_MULTILINE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_LINE_BREAKS = re.compile(r"[\t\n\r]")


def _strings(value):
    """Every string inside `value` (a JSON field's value holds them in lists and objects, keys included)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from _strings(key)
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def check_text(value, *, multiline: bool = False) -> None:
    """Raise ValidationError (code "control_characters", or "line_breaks" for a tab or line break in a
    single-line field) when `value` — a string, or a list/dict of them — holds a control character."""
    for text in _strings(value):
        pattern = _CONTROL_MULTILINE if multiline else _CONTROL_SINGLE_LINE
        found = pattern.search(text)
        if found is None:
            continue
        if not multiline and _LINE_BREAKS.fullmatch(found.group()) and not _CONTROL_MULTILINE.search(text):
            raise ValidationError(_("此项只能填写一行文字，请去掉其中的换行符或制表符。"), code="line_breaks")
        raise ValidationError(
            _("内容中含有控制字符（如空字符 NUL，位置 %(position)d），请删除后重新输入。"),
            code="control_characters",
            params={"position": found.start() + 1},
        )


@deconstructible
class TextValidator:
    """A field validator calling `check_text`."""

    def __init__(self, *, multiline: bool = False):
        self.multiline = multiline

    def __call__(self, value) -> None:
        check_text(value, multiline=self.multiline)

    def __eq__(self, other) -> bool:
        return isinstance(other, TextValidator) and other.multiline == self.multiline


def plain_decimal(value: Decimal | None) -> str:
    """A number as a person writes it in a message: 2, 1.5, 0.25 (not 2.00 or 1E+1); '' for None. Messages keep
    their context as JSON, which has no Decimal."""
    return "" if value is None else f"{value.normalize():f}"
