"""The texts to submit to the SMS gateway for approval, one per message of ours that goes by SMS:
`manage.py sms_templates [--vendor aliyun|tencent]`. Each line: our template key (the key of SMS_TEMPLATE_IDS), then
the text with its variables in the vendor's notation — Aliyun ${name}, Tencent {1}, {2} … in the order the text
uses them (the order notifications.sms_gateways sends them). The signature 【…】 is approved separately
(SMS_SIGN_NAME) and is left out of the text."""

import re
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.template import Context
from django.utils import translation

from notifications.rendering import _template, sms_variables

TEMPLATES = Path(__file__).resolve().parents[2] / "templates" / "notifications"
SIGNATURE_RE = re.compile(r"^【[^】]*】")


def approval_text(key: str, vendor: str) -> str:
    names = sms_variables(key)
    if vendor == "aliyun":
        values = {name: "${" + name + "}" for name in names}
    else:
        values = {name: "{" + str(position) + "}" for position, name in enumerate(names, start=1)}
    with translation.override(settings.LANGUAGE_CODE):
        text = _template(key, "sms.txt").render(Context(values, autoescape=False)).strip()
    return SIGNATURE_RE.sub("", text)


class Command(BaseCommand):
    help = "Print the SMS texts to submit to the gateway for approval, with their variables."

    def add_arguments(self, parser):
        parser.add_argument("--vendor", choices=["aliyun", "tencent"], default="aliyun")

    def handle(self, *args, vendor: str, **options):
        keys = sorted(path.parent.name for path in TEMPLATES.glob("*/sms.txt"))
        for key in keys:
            configured = "" if key in (settings.SMS_TEMPLATE_IDS or {}) else "  (未配置 SMS_TEMPLATE_IDS)"
            self.stdout.write(f"{key}{configured}\n  {approval_text(key, vendor)}")
