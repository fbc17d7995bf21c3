"""The residents' pages: the public form, the answer page, tracking and withdrawal, the privacy notice."""

import re

import pytest
from django.urls import reverse

from demands.models import CONSENT_VERSION, MicroWish
from notifications.models import Notification
from notifications.rendering import render_message
from tests.demands.factories import submit_wish, wish_in_state

pytestmark = pytest.mark.django_db

NEW = "/wishes/new/"
TRACK = "/wishes/track/"


@pytest.fixture
def form_data(org_tree, helping):
    return {
        "category": helping.pk,
        "title": "帮忙修理漏水的水龙头",
        "description": "厨房水龙头一直滴水，老人自己修不了。",
        "community": org_tree.community_a.pk,
        "grid": org_tree.grid_a.pk,
        "preferred_time": "周六上午",
        "contact_name": "张桂英",
        "phone": "139-0000-5678",
        "consent_processing": "on",
    }


def test_the_form_links_the_privacy_notice_and_hides_the_honeypot(client, form_data):
    html = client.get(NEW).content.decode()

    assert 'href="/privacy/"' in html
    assert 'name="website"' in html and 'class="hp-field" aria-hidden="true"' in html
    assert 'inputmode="tel"' in html


def test_submit_answers_with_the_tracking_code_and_texts_it(client, form_data):
    response = client.post(NEW, form_data)

    assert response.status_code == 302 and response.url == reverse("demands:submitted")
    wish = MicroWish.objects.get()
    assert (wish.contact_phone, wish.grid_id, wish.consent_display) == ("13900005678", form_data["grid"], False)
    assert wish.consent_version == CONSENT_VERSION
    page = client.get(response.url).content.decode()
    assert f'id="tracking-code">{wish.tracking_code}<' in page
    sms = Notification.objects.get(template="demands_submitted")
    assert (sms.channel, sms.recipient_phone, sms.recipient_user) == ("sms", "13900005678", None)
    text = render_message(sms).body
    assert wish.tracking_code in text and "/wishes/track/" in text


def test_the_answer_page_without_a_submission_goes_back_to_the_form(client):
    response = client.get(reverse("demands:submitted"))
    assert response.status_code == 302 and response.url == NEW


def _errors(response) -> str:
    return response.content.decode()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"title": "", "description": "", "contact_name": "", "phone": ""}, "这个字段是必填项。"),
        ({"title": "修" * 61}, "60"),
        ({"description": "很" * 1001}, "1000"),
        ({"phone": "12345"}, "请输入11位中国大陆手机号码。"),
        ({"phone": "0571-88886666"}, "请输入11位中国大陆手机号码。"),
        ({"consent_processing": ""}, "需要您同意我们为办理心愿处理您的联系方式，才能提交。"),
        ({"website": "http://spam.example"}, "提交未成功，请刷新页面后重新填写。"),
        ({"title": "修水龙头😊"}, "请不要使用表情符号"),
        ({"contact_name": "张👍"}, "请不要使用表情符号"),
        ({"description": "<script>alert(1)</script>水龙头坏了"}, "请不要输入网页代码"),
        ({"title": "<b>修水龙头</b>"}, "请不要输入网页代码"),
        ({"grid": "grid_b"}, "所选网格不属于该社区（村）。"),
        ({"category": "999999"}, "选择一个有效的选项"),
    ],
    ids=[
        "empty",
        "title-too-long",
        "description-too-long",
        "bad-phone",
        "landline",
        "no-consent",
        "honeypot",
        "emoji-title",
        "emoji-name",
        "html-description",
        "html-title",
        "grid-of-another-community",
        "unknown-category",
    ],
)
def test_bad_input_shows_the_form_again_and_saves_nothing(client, form_data, org_tree, change, message):
    data = dict(form_data)
    for key, value in change.items():
        data[key] = org_tree.grid_b.pk if value == "grid_b" else value

    response = client.post(NEW, data)

    assert response.status_code == 200
    html = _errors(response)
    assert message in html
    assert 'id="form-errors"' in html
    assert not MicroWish.objects.exists()
    assert not Notification.objects.exists()
    assert "<script>alert(1)</script>" not in html  # what the resident typed comes back escaped


def test_a_blocked_phone_is_refused_politely(client, form_data, org_tree, secretary_a):
    from demands import services

    wish = submit_wish(org_tree.community_a, phone="13900005678")
    services.phone_block(wish=wish, actor=secretary_a, reason="恶意重复提交")

    response = client.post(NEW, form_data)

    assert "该手机号暂时不能在线提交心愿" in response.content.decode()
    assert MicroWish.objects.count() == 1


def test_a_wish_addressed_to_an_offer(client, form_data, org_tree, member_a, helping):
    from demands.models import ServiceOffer

    offer = ServiceOffer.objects.create(member=member_a, title="上门修理小家电", category=helping)
    page = client.get(f"{NEW}?offer={offer.pk}").content.decode()
    assert 'id="offer-info"' in page and "上门修理小家电" in page

    client.post(NEW, {**form_data, "offer": offer.pk})

    assert MicroWish.objects.get().offer == offer


# --- Rate limits ------------------------------------------------------------------------------------------------


def test_too_many_posts_from_one_address_get_429_with_the_wait(client, form_data, settings):
    settings.WISH_SUBMIT_IP_LIMIT = (3, 3600)
    for i in range(3):
        client.post(NEW, {**form_data, "phone": f"1390000{i:04d}"})

    response = client.post(NEW, {**form_data, "phone": "13900009999"})

    assert response.status_code == 429
    assert 0 < int(response["Retry-After"]) <= 3600
    assert re.search(r"请在\d+分钟后再试。", response.content.decode())
    assert MicroWish.objects.count() == 3


def test_too_many_wishes_from_one_phone_get_429(client, form_data, settings):
    settings.WISH_SUBMIT_PHONE_LIMIT = (2, 86400)
    for _i in range(2):
        assert client.post(NEW, form_data).status_code == 302

    response = client.post(NEW, {**form_data, "phone": "+86 139 0000 5678"})  # the same number, written otherwise

    assert response.status_code == 429
    assert MicroWish.objects.count() == 2
    other = client.post(NEW, {**form_data, "phone": "13900005679"})
    assert other.status_code == 302


def test_invalid_posts_count_towards_the_address_limit(client, form_data, settings):
    settings.WISH_SUBMIT_IP_LIMIT = (2, 3600)
    client.post(NEW, {})
    client.post(NEW, {})
    assert client.post(NEW, form_data).status_code == 429


# --- Tracking ---------------------------------------------------------------------------------------------------


def _track(client, code, last4):
    return client.post(TRACK, {"code": code, "last4": last4})


def test_tracking_shows_the_timeline_with_the_reason(client, org_tree, secretary_a):
    wish = wish_in_state("rejected", org_tree.community_a, secretary_a, phone="13900001234")

    response = _track(client, wish.tracking_code.lower()[:5] + "-" + wish.tracking_code.lower()[5:], "1234")

    assert response.status_code == 302 and response.url == reverse("demands:track_status")
    html = client.get(response.url).content.decode()
    assert "不属于本社区的服务范围" in html
    assert html.count('data-action="') == 2  # submitted, rejected
    assert "电话核实属实" not in html  # internal notes stay internal
    assert 'id="withdraw-form"' not in html


def test_unknown_code_and_wrong_digits_answer_the_same(client, org_tree):
    wish = submit_wish(org_tree.community_a, phone="13900001234")

    unknown = _track(client, "ABCDEFGHJK", "4321")
    wrong = _track(client, wish.tracking_code, "4321")

    assert unknown.status_code == wrong.status_code == 200
    strip = lambda r: re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", r.content.decode())  # noqa: E731
    assert strip(unknown).replace("ABCDEFGHJK", "X") == strip(wrong).replace(wish.tracking_code, "X")
    assert "查询码或手机号后四位不正确" in unknown.content.decode()


def test_wrong_digits_for_one_code_are_limited_known_or_not(client, org_tree, settings):
    settings.WISH_TRACK_CODE_LIMIT = (3, 3600)
    wish = submit_wish(org_tree.community_a, phone="13900001234")
    for code in (wish.tracking_code, "ABCDEFGHJK"):
        for _i in range(3):
            assert _track(client, code, "0000").status_code == 200
        assert _track(client, code, "0000").status_code == 429
    # Even the right digits wait now: the limit does not tell a guess that was right.
    assert _track(client, wish.tracking_code, "1234").status_code == 429


def test_tracking_from_one_address_is_limited(client, settings):
    settings.WISH_TRACK_IP_LIMIT = (2, 900)
    _track(client, "AAAAAAAAAA", "0000")
    _track(client, "BBBBBBBBBB", "0000")
    assert _track(client, "CCCCCCCCCC", "0000").status_code == 429


def test_the_status_page_needs_a_tracked_wish(client):
    response = client.get(reverse("demands:track_status"))
    assert response.status_code == 302 and response.url == TRACK


def test_withdraw_while_unclaimed(client, org_tree, secretary_a):
    wish = wish_in_state("published", org_tree.community_a, secretary_a, phone="13900001234")
    _track(client, wish.tracking_code, "1234")

    response = client.post(reverse("demands:track_withdraw"), {"reason": "已经修好了"})

    assert response.status_code == 302
    wish.refresh_from_db()
    assert wish.state == MicroWish.State.WITHDRAWN
    assert "心愿已撤回。" in client.get(response.url).content.decode()


def test_withdraw_after_a_claim_is_refused_with_a_message(client, org_tree, secretary_a, member_a):
    wish = wish_in_state("claimed", org_tree.community_a, secretary_a, member_a, phone="13900001234")
    _track(client, wish.tracking_code, "1234")
    assert 'id="withdraw-form"' not in client.get(reverse("demands:track_status")).content.decode()

    response = client.post(reverse("demands:track_withdraw"), follow=True)

    assert "心愿已被认领或已结束，不能撤回" in response.content.decode()
    wish.refresh_from_db()
    assert wish.state == MicroWish.State.CLAIMED


def test_withdraw_without_tracking_does_nothing(client, wish_a):
    response = client.post(reverse("demands:track_withdraw"))
    assert response.status_code == 302 and response.url == TRACK
    wish_a.refresh_from_db()
    assert wish_a.state == MicroWish.State.SUBMITTED


def test_privacy_notice_says_why_what_and_how_long(client, settings):
    settings.WISH_CONTACT_RETENTION_DAYS = 90
    html = client.get("/privacy/").content.decode()
    for words in (
        "我们收集什么",
        "用来做什么",
        "谁能看到",
        "保存多久",
        "您的权利",
        "联系我们",
        "90 天",
        CONSENT_VERSION,
    ):
        assert words in html
