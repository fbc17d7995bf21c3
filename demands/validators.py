"""Checks of what residents type on the public pages: the messages a form shows before a service is called."""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# Markup: "<b", "</", "<!", "<?" — text that a careless page would turn into HTML. "<" followed by a space or a
# digit (“<5岁”) is ordinary text.
_MARKUP_RE = re.compile(r"<\s*[/!?a-zA-Z]")
# Pictographs, dingbats, flags, variation selector and zero-width joiner: SMS gateways garble them, names and titles
# never need them.
_EMOJI_RE = re.compile(
    "[\U0001f000-\U0001faff\U00002600-\U000027bf\U0001f1e6-\U0001f1ff\ufe0f\u200d\U0000e000-\U0000f8ff]"
)


def check_plain_text(value: str) -> None:
    """Ordinary text only: no HTML-like markup, no emoji (control characters: core.text, on every form field)."""
    if _MARKUP_RE.search(value or ""):
        raise ValidationError(_("请不要输入网页代码（如 <b>、<script>），直接写文字即可。"), code="markup")
    if _EMOJI_RE.search(value or ""):
        raise ValidationError(_("请不要使用表情符号，直接写文字即可。"), code="emoji")
