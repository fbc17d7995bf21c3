"""Messages come from translatable plain-text templates, rendered in the recipient's language."""

from django.utils import translation

from notifications.models import Notification
from notifications.rendering import render_message
from notifications.services import notify


def test_welcome_renders_subject_body_and_sms(member_user):
    inapp = notify(template="welcome", channel="inapp", dedupe_key="a", user=member_user, context={"name": "王五"})
    sms = notify(template="welcome", channel="sms", dedupe_key="b", phone="13800001234", context={"name": "王五"})

    message = render_message(inapp)
    assert message.subject == "欢迎加入党员志愿服务平台"
    assert message.body.startswith("王五，您好！\n\n欢迎加入党员志愿服务平台。")
    assert render_message(sms).subject == ""
    assert render_message(sms).body == "【党员志愿服务平台】王五，您好！欢迎加入党员志愿服务平台。"


def test_text_is_not_html_escaped(member_user):
    notification = notify(
        template="welcome", channel="email", dedupe_key="a", user=member_user, context={"name": "<张&李>"}
    )

    assert render_message(notification).body.startswith("<张&李>，您好！")


def test_rendered_in_the_rows_language_whatever_is_active(member_user, test_templates):
    notification = notify(
        template="langprobe", channel="inapp", dedupe_key="a", user=member_user, language="en", context={"text": "x"}
    )
    assert notification.language == "en"

    with translation.override("zh-hans"):
        assert render_message(notification).subject == "language=en"
        assert render_message(notification, language="zh-hans").subject == "language=zh-hans"
    assert translation.get_language() == "zh-hans"  # the override did not leak


def test_language_defaults_to_the_site_language(member_user, test_templates, settings):
    notification = notify(template="langprobe", channel="inapp", dedupe_key="a", user=member_user)

    assert notification.language == settings.LANGUAGE_CODE == "zh-hans"
    assert Notification.objects.get(pk=notification.pk).context == {}
