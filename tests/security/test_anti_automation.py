"""Anti-automation on the anonymous forms (wish, tracking, rating link) and on check-in codes: limits counted in
the shared cache per client address (read behind the trusted proxies), honeypots answered like any refusal,
uniform answers, and the platform admin's blocks of a phone number or an IP range."""

import re
from datetime import timedelta

import pytest
from django.core.cache import caches
from django.urls import reverse

from core import ratelimit
from core.crypto import blind_index
from demands.models import BlockedNetwork, BlockedPhone, MicroWish
from projects import services as project_services
from projects.models import SignUp
from tests.demands.factories import feedback_token, submit_wish, wish_in_state
from tests.projects.factories import ActivityFactory
from tests.queries import count_queries

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
        "preferred_time": "周六上午",
        "contact_name": "张桂英",
        "phone": "13900005678",
        "consent_processing": "on",
    }


def _strip_csrf(response) -> str:
    return re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", response.content.decode())


# --- The client's address -------------------------------------------------------------------------------------


def test_without_trusted_proxies_a_forged_forwarded_for_is_ignored(client, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    settings.WISH_TRACK_IP_LIMIT = (3, 900)
    for i in range(3):
        client.post(TRACK, {"code": "AAAAAAAAAA", "last4": "0000"}, HTTP_X_FORWARDED_FOR=f"10.0.0.{i}")
    response = client.post(TRACK, {"code": "AAAAAAAAAA", "last4": "0000"}, HTTP_X_FORWARDED_FOR="10.0.0.99")
    assert response.status_code == 429  # every attempt counted for REMOTE_ADDR, whatever the header said


def test_behind_one_proxy_the_limit_counts_the_address_the_proxy_saw(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    settings.WISH_TRACK_IP_LIMIT = (3, 900)
    # The client writes anything on the left; our proxy appends the address it saw (198.51.100.7).
    for i in range(3):
        forwarded = f"10.0.0.{i}, 198.51.100.7"
        response = client.post(TRACK, {"code": "AAAAAAAAAA", "last4": "0000"}, HTTP_X_FORWARDED_FOR=forwarded)
        assert response.status_code == 200
    forged = client.post(TRACK, {"code": "A" * 10, "last4": "0000"}, HTTP_X_FORWARDED_FOR="10.9.9.9, 198.51.100.7")
    assert forged.status_code == 429
    # Another resident behind the same proxy has their own allowance.
    other = client.post(TRACK, {"code": "AAAAAAAAAA", "last4": "0000"}, HTTP_X_FORWARDED_FOR="198.51.100.8")
    assert other.status_code == 200


@pytest.mark.redis
def test_limits_live_in_the_shared_redis_cache(settings):
    """Production sets CACHES to Redis (REDIS_URL): a count made by one process is seen by another."""
    settings.CACHES = {
        "default": {"BACKEND": "volunteer_platform.redis_cache.RedisCache", "LOCATION": settings.REDIS_URL}
    }
    caches["default"].clear()
    settings.WISH_TRACK_IP_LIMIT = (2, 900)
    try:
        assert ratelimit.hit("WISH_TRACK_IP_LIMIT", "203.0.113.5").allowed
        assert ratelimit.hit("WISH_TRACK_IP_LIMIT", "203.0.113.5").allowed
        # A second connection (another worker process) sees the same count.
        other = caches.create_connection("default")
        assert list(other._cache.get_client().scan_iter(match=":1:rl:WISH_TRACK_IP_LIMIT:*"))
        assert not ratelimit.peek("WISH_TRACK_IP_LIMIT", "203.0.113.5").allowed
    finally:
        caches["default"].clear()


# --- Honeypots ------------------------------------------------------------------------------------------------


def test_a_filled_honeypot_on_the_wish_form_saves_nothing(client, form_data):
    response = client.post(NEW, {**form_data, "website": "http://spam.example"})
    assert response.status_code == 200
    assert "提交未成功，请刷新页面后重新填写。" in response.content.decode()
    assert not MicroWish.objects.exists()


def test_a_filled_honeypot_on_tracking_gets_the_wrong_code_answer(client, org_tree):
    wish = submit_wish(org_tree.community_a, phone="13900001234")
    bot = client.post(TRACK, {"code": wish.tracking_code, "last4": "1234", "website": "x"})
    wrong = client.post(TRACK, {"code": wish.tracking_code, "last4": "4321"})
    assert bot.status_code == wrong.status_code == 200
    assert _strip_csrf(bot).count("查询码或手机号后四位不正确") == 1
    assert 'id="track-error"' in _strip_csrf(bot) and 'id="track-error"' in _strip_csrf(wrong)
    assert client.get(reverse("demands:track_status")).status_code == 302  # the bot did not open the wish


def test_a_filled_honeypot_on_the_rating_link_rates_nothing(client, org_tree, secretary_a, member_a):
    wish = wish_in_state("fulfilled", org_tree.community_a, secretary_a, member_a)
    url = reverse("demands:feedback", args=[feedback_token(wish)])
    html = client.get(url).content.decode()
    assert 'class="hp-field" aria-hidden="true"' in html and 'name="website"' in html
    response = client.post(url, {"rating": "1", "comment": "", "website": "spam"})
    assert response.status_code == 200 and "提交未成功" in response.content.decode()
    wish.refresh_from_db()
    assert wish.state == MicroWish.State.FULFILLED and wish.rating is None


# --- Uniform answers ------------------------------------------------------------------------------------------


def test_unknown_code_and_wrong_digits_cost_the_same_queries(client, org_tree):
    wish = submit_wish(org_tree.community_a, phone="13900001234")
    responses = []

    def track(code):
        return lambda: responses.append(client.post(TRACK, {"code": code, "last4": "4321"}))

    unknown, _sql = count_queries(track("ABCDEFGHJK"))
    wrong, _sql = count_queries(track(wish.tracking_code))
    malformed, _sql = count_queries(track("!!"))
    assert unknown == wrong == malformed
    bodies = {_strip_csrf(r).replace(wish.tracking_code, "X").replace("ABCDEFGHJK", "X") for r in responses[:2]}
    assert len(bodies) == 1


# --- Guessing feedback tokens and check-in codes --------------------------------------------------------------


def test_guessing_rating_links_is_limited_per_address(client, org_tree, secretary_a, member_a, settings):
    settings.WISH_FEEDBACK_IP_LIMIT = (3, 900)
    wish = wish_in_state("fulfilled", org_tree.community_a, secretary_a, member_a)
    for i in range(3):
        assert client.get(reverse("demands:feedback", args=[f"guess{i}"])).status_code == 404
    assert client.get(reverse("demands:feedback", args=["guess-more"])).status_code == 429
    # The limit is per address: the resident on their own network opens their link.
    own = client.get(reverse("demands:feedback", args=[feedback_token(wish)]), REMOTE_ADDR="198.51.100.20")
    assert own.status_code == 200


def test_check_in_attempts_are_limited_even_with_the_right_code(clock, client, org_tree, member_a, settings):
    settings.CHECKIN_ATTEMPT_LIMIT = (3, 3600)
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    project_services.signup_create(activity=activity, member=member_a)
    clock.now = activity.starts_at + timedelta(minutes=5)
    client.force_login(member_a.user)
    url = reverse("projects:activity_checkin", args=[activity.pk])
    wrong = "000000" if activity.checkin_code != "000000" else "111111"
    for _i in range(3):
        assert client.post(url, {"code": wrong}).status_code == 200
    response = client.post(url, {"code": activity.checkin_code})
    assert response.status_code == 429 and "尝试次数太多" in response.content.decode()
    assert SignUp.objects.get(member=member_a).checked_in_at is None


# --- Blocks by the platform admin -----------------------------------------------------------------------------


def test_the_platform_admin_blocks_a_range_and_its_submissions_are_refused(client, platform_admin, form_data):
    client.force_login(platform_admin)
    response = client.post(
        reverse("admin:demands_blockednetwork_add"), {"network": "203.0.113.77/24", "reason": "批量提交"}
    )
    assert response.status_code == 302
    block = BlockedNetwork.objects.get()
    assert block.network == "203.0.113.0/24" and block.created_by == platform_admin
    client.logout()

    inside = client.post(NEW, form_data, REMOTE_ADDR="203.0.113.9")
    assert inside.status_code == 403
    html = inside.content.decode()
    assert "当前网络暂时不能在线提交" in html and "203.0.113" not in html and "批量提交" not in html
    assert client.post(TRACK, {"code": "A" * 10, "last4": "0000"}, REMOTE_ADDR="203.0.113.9").status_code == 403
    assert not MicroWish.objects.exists()
    # The form itself stays readable, and a neighbouring network submits.
    assert client.get(NEW, REMOTE_ADDR="203.0.113.9").status_code == 200
    assert client.post(NEW, form_data, REMOTE_ADDR="203.0.114.9").status_code == 302
    assert MicroWish.objects.count() == 1


def test_a_blocked_range_cannot_rate_either(client, org_tree, secretary_a, member_a, platform_admin):
    from demands import services

    wish = wish_in_state("fulfilled", org_tree.community_a, secretary_a, member_a)
    services.network_block(network="2001:db8::/48", actor=platform_admin, reason="滥用")
    url = reverse("demands:feedback", args=[feedback_token(wish)])
    assert client.post(url, {"rating": "5"}, REMOTE_ADDR="2001:db8::1").status_code == 403
    wish.refresh_from_db()
    assert wish.state == MicroWish.State.FULFILLED


@pytest.mark.parametrize(
    ("typed", "error"),
    [("not an address", "请输入 IP 地址或地址段"), ("10.0.0.0/8", "地址段太大"), ("2001:db8::/16", "地址段太大")],
)
def test_a_range_must_be_an_address_and_not_too_wide(client, platform_admin, typed, error):
    client.force_login(platform_admin)
    response = client.post(reverse("admin:demands_blockednetwork_add"), {"network": typed, "reason": "测试"})
    assert response.status_code == 200 and error in response.content.decode()
    assert not BlockedNetwork.objects.exists()


def test_the_platform_admin_blocks_a_number_stored_only_as_its_hash(client, platform_admin, form_data):
    client.force_login(platform_admin)
    response = client.post(reverse("admin:demands_blockedphone_add"), {"phone": "139-0000-5678", "reason": "恶意提交"})
    assert response.status_code == 302
    block = BlockedPhone.objects.get()
    assert block.phone_hash == blind_index("13900005678") and block.phone_masked == "139****5678"
    assert "13900005678" not in str(BlockedPhone.objects.values().get())
    client.logout()

    refused = client.post(NEW, form_data)
    assert refused.status_code == 200
    assert "该手机号暂时不能在线提交心愿" in refused.content.decode()
    assert not MicroWish.objects.exists()


def test_secretaries_neither_add_numbers_nor_see_blocked_ranges(client, secretary_a):
    client.force_login(secretary_a)
    assert client.get(reverse("admin:demands_blockedphone_add")).status_code == 403
    assert client.get(reverse("admin:demands_blockednetwork_changelist")).status_code == 403
    assert client.get(reverse("admin:demands_blockednetwork_add")).status_code == 403
