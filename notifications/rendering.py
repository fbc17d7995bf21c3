"""Turn a notification row into text: `notifications/<template>/subject.txt`, `body.txt` and `sms.txt`.

Templates are plain text written in Chinese with `{% blocktranslate %}`, rendered in the row's language. They are
rendered without HTML escaping (an email body is not HTML); a page that shows the text escapes it there.
"""

import re
from dataclasses import dataclass

from django.template import Context, Template, TemplateDoesNotExist, engines
from django.template.backends.django import DjangoTemplates
from django.utils import translation

from .models import Notification

TEMPLATE_KEY_RE = re.compile(r"^[a-z0-9_-]+$")

# Which files a channel needs: an SMS has no subject, and its text is short, so it has a template of its own.
PARTS: dict[str, tuple[str, ...]] = {
    Notification.Channel.INAPP: ("subject.txt", "body.txt"),
    Notification.Channel.EMAIL: ("subject.txt", "body.txt"),
    Notification.Channel.SMS: ("sms.txt",),
}


@dataclass(frozen=True)
class RenderedMessage:
    subject: str
    body: str


def _template(key: str, part: str) -> Template:
    engine = engines["django"]
    assert isinstance(engine, DjangoTemplates)  # settings.TEMPLATES names the Django backend "django"
    return engine.engine.get_template(f"notifications/{key}/{part}")


def check_templates(*, template: str, channel: str) -> None:
    """Raise ValueError for a malformed key and TemplateDoesNotExist for a missing file, so a typo fails at once."""
    if not TEMPLATE_KEY_RE.match(template):
        raise ValueError(f"invalid notification template key: {template!r}")
    for part in PARTS[channel]:
        _template(template, part)


def has_templates(*, template: str, channel: str) -> bool:
    """Whether `template` has every file `channel` needs (e.g. an SMS text), for messages sent on what exists."""
    try:
        check_templates(template=template, channel=channel)
    except TemplateDoesNotExist:
        return False
    return True


def render_message(notification: Notification, *, language: str | None = None) -> RenderedMessage:
    """Render the row's template in `language` (default: the row's own language)."""
    parts = PARTS[notification.channel]
    with translation.override(language or notification.language):
        texts = {
            part: _template(notification.template, part).render(Context(notification.context, autoescape=False))
            for part in parts
        }
    if notification.channel == Notification.Channel.SMS:
        return RenderedMessage(subject="", body=texts["sms.txt"].strip())
    # A subject is one line: an email header cannot hold a line break.
    return RenderedMessage(subject=" ".join(texts["subject.txt"].split()), body=texts["body.txt"].strip())


_VARIABLE_RE = re.compile(r"{{\s*([a-z_][a-z0-9_]*)\s*}}")


def sms_variables(key: str) -> list[str]:
    """The context variables `key`'s SMS text uses, in the order it uses them (each once): what a template-based
    gateway sends as the approved template's parameters (Aliyun by name, Tencent Cloud by position)."""
    source = _template(key, "sms.txt").source
    return list(dict.fromkeys(_VARIABLE_RE.findall(source)))
