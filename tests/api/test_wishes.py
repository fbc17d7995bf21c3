"""Wishes through the API: the residents' form, tracking and rating, the wall, claims, and the review queue — the
same messages, scopes and limits as the pages."""

import pytest
from django.utils import timezone

from demands.models import MicroWish
from tests.api.conftest import bearer
from tests.demands.factories import feedback_token, jpeg_upload, service_times, wish_category, wish_in_state

pytestmark = pytest.mark.django_db


@pytest.fixture
def category(db):
    return wish_category()


def _form(org_tree, category, **changes) -> dict:
    data = {
        "category": category.pk,
        "title": "帮忙修理漏水的水龙头",
        "description": "厨房水龙头一直滴水，老人自己修不了。",
        "community": org_tree.community_a.pk,
        "contact_name": "王阿姨",
        "phone": "13812345678",
        "consent_processing": True,
    }
    data.update(changes)
    return data


def test_a_resident_submits_tracks_and_rates_a_wish(api, org_tree, category, secretary_a, member_a):
    answer = api.post("/api/v1/wishes/submit/", _form(org_tree, category), format="json")
    assert answer.status_code == 201, answer.json()
    code = answer.json()["tracking_code"]
    wish = MicroWish.objects.get(tracking_code=code)
    assert wish.state == MicroWish.State.SUBMITTED and wish.contact_phone == "13812345678"

    tracked = api.post("/api/v1/wishes/track/", {"code": code.lower(), "last4": "5678"}, format="json")
    assert tracked.status_code == 200 and tracked.json()["state"] == "submitted"
    assert tracked.json()["can_withdraw"] is True
    wrong = api.post("/api/v1/wishes/track/", {"code": code, "last4": "0000"}, format="json")
    assert wrong.status_code == 404 and wrong.json()["detail"] == "查询码或手机号后四位不正确，请核对后再试。"

    done = wish_in_state("fulfilled", org_tree.community_a, secretary_a, member_a)
    token = feedback_token(done)
    assert api.get(f"/api/v1/wishes/feedback/{token}/").status_code == 200
    no_stars = api.post(f"/api/v1/wishes/feedback/{token}/", {"action": "rate"}, format="json")
    assert no_stars.status_code == 400 and no_stars.json()["errors"] == {"rating": ["请选择1到5星。"]}
    rated = api.post(f"/api/v1/wishes/feedback/{token}/", {"rating": 5, "comment": "谢谢"}, format="json")
    assert rated.status_code == 200 and rated.json()["state"] == "confirmed"
    assert api.get("/api/v1/wishes/feedback/not-a-token/").status_code == 404


def test_the_form_answers_with_the_pages_messages_and_saves_nothing(api, org_tree, category):
    answer = api.post(
        "/api/v1/wishes/submit/",
        _form(org_tree, category, consent_processing=False, phone="12345", title="修\x00"),
        format="json",
    )
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert errors["consent_processing"] == ["需要您同意我们为办理心愿处理您的联系方式，才能提交。"]
    assert set(errors) >= {"phone", "title"}
    assert not MicroWish.objects.exists()


def test_the_submission_limit_per_address_holds(api, org_tree, category, settings):
    settings.WISH_SUBMIT_IP_LIMIT = (1, 3600)
    api.post("/api/v1/wishes/submit/", _form(org_tree, category), format="json")
    refused = api.post("/api/v1/wishes/submit/", _form(org_tree, category, phone="13812345679"), format="json")
    assert refused.status_code == 429 and refused["Retry-After"]
    assert MicroWish.objects.count() == 1


def test_the_wall_pages_by_cursor_and_answers_304_when_nothing_changed(api, org_tree, category, secretary_a):
    for _i in range(25):
        wish_in_state("published", org_tree.community_a, secretary_a)
    first = api.get("/api/v1/wishes/")
    assert first.status_code == 200
    body = first.json()
    assert len(body["results"]) == 20 and body["next"] and body["previous"] is None
    assert "contact" not in body["results"][0] and "phone" not in str(body)
    second = api.get(body["next"])
    assert len(second.json()["results"]) == 5
    ids = [w["id"] for w in body["results"] + second.json()["results"]]
    assert len(set(ids)) == 25

    again = api.get("/api/v1/wishes/", HTTP_IF_NONE_MATCH=first["ETag"])
    assert again.status_code == 304 and again["ETag"] == first["ETag"]
    wish_in_state("published", org_tree.community_a, secretary_a)
    assert api.get("/api/v1/wishes/", HTTP_IF_NONE_MATCH=first["ETag"]).status_code == 200


def test_a_member_claims_and_releases_and_sees_the_contact_only_while_claiming(
    api, org_tree, category, secretary_a, member_a
):
    wish = wish_in_state("published", org_tree.community_a, secretary_a)
    assert api.post(f"/api/v1/wishes/{wish.pk}/claim/").status_code == 401
    bearer(api, member_a.user)
    assert api.get(f"/api/v1/wishes/{wish.pk}/").json()["contact"] is None
    claimed = api.post(f"/api/v1/wishes/{wish.pk}/claim/", {}, format="json")
    assert claimed.status_code == 200, claimed.json()
    assert claimed.json()["is_claimer"] is True and claimed.json()["contact"]["phone"].startswith("1")
    again = api.post(f"/api/v1/wishes/{wish.pk}/claim/", {}, format="json")
    assert again.status_code == 400 and again.json()["code"] == "invalid"
    released = api.post(f"/api/v1/wishes/{wish.pk}/release/", {"reason": "临时出差"}, format="json")
    assert released.status_code == 200 and released.json()["state"] == "published"


def test_an_account_without_a_member_record_may_not_claim(api, org_tree, category, secretary_a, staff_without_scope):
    wish = wish_in_state("published", org_tree.community_a, secretary_a)
    bearer(api, staff_without_scope)
    answer = api.post(f"/api/v1/wishes/{wish.pk}/claim/", {}, format="json")
    assert answer.status_code == 403 and answer.json()["detail"] == "只有党员可以认领心愿。"


def test_the_review_queue_is_the_secretarys_scope(api, org_tree, category, secretary_a, secretary_b, member_a):
    wish = wish_in_state("submitted", org_tree.community_a, secretary_a)
    bearer(api, secretary_b)
    assert api.get("/api/v1/review/wishes/").json()["results"] == []
    assert api.post(f"/api/v1/review/wishes/{wish.pk}/reject/", {"reason": "x"}, format="json").status_code == 404

    bearer(api, member_a.user)
    assert api.get("/api/v1/review/wishes/").status_code == 403

    bearer(api, secretary_a)
    queue = api.get("/api/v1/review/wishes/").json()["results"]
    assert [w["id"] for w in queue] == [wish.pk]
    fields = {
        "action": "verify_publish",
        "public_title": "修理水龙头",
        "public_description": "厨房水龙头漏水，需要上门修理。",
        "category": category.pk,
        "target_group": "general",
    }
    published = api.post(f"/api/v1/review/wishes/{wish.pk}/", fields, format="json")
    assert published.status_code == 200, published.json()
    assert published.json()["state"] == "published"
    no_reason = api.post(f"/api/v1/review/wishes/{wish.pk}/reject/", {}, format="json")
    assert no_reason.status_code == 400 and "reason" in no_reason.json()["errors"]


def test_the_claimer_records_the_fulfilment_with_a_photo(api, org_tree, category, secretary_a, member_a, member_b):
    wish = wish_in_state("claimed", org_tree.community_a, secretary_a, member_a)
    start, end = service_times()
    data = {
        "note": "已上门更换了水龙头。",
        "start": timezone.localtime(start).strftime("%Y-%m-%d %H:%M"),
        "end": timezone.localtime(end).strftime("%Y-%m-%d %H:%M"),
        "hours": "1.5",
        "photos": jpeg_upload(),
    }
    bearer(api, member_b.user)
    assert api.post(f"/api/v1/wishes/{wish.pk}/fulfil/", data, format="multipart").status_code == 404
    bearer(api, member_a.user)
    bad = api.post(f"/api/v1/wishes/{wish.pk}/fulfil/", {**data, "hours": "abc"}, format="multipart")
    assert bad.status_code == 400 and "hours" in bad.json()["errors"]
    wish.refresh_from_db()
    assert wish.state == MicroWish.State.CLAIMED and not wish.photos.exists()
    done = api.post(f"/api/v1/wishes/{wish.pk}/fulfil/", {**data, "photos": jpeg_upload()}, format="multipart")
    assert done.status_code == 200, done.json()
    wish.refresh_from_db()
    assert wish.state == MicroWish.State.FULFILLED and wish.photos.count() == 1


def test_the_wall_is_kept_like_its_page_and_a_claim_drops_it(api, org_tree, category, secretary_a, member_a, settings):
    settings.PAGE_CACHES = True
    wish = wish_in_state("published", org_tree.community_a, secretary_a)
    assert api.get("/api/v1/wishes/")["X-Page-Cache"] == "miss"
    kept = api.get("/api/v1/wishes/")
    assert kept["X-Page-Cache"] == "hit" and [w["id"] for w in kept.json()["results"]] == [wish.pk]
    claimer = api.__class__()
    bearer(claimer, member_a.user)
    assert claimer.post(f"/api/v1/wishes/{wish.pk}/claim/", {}, format="json").status_code == 200
    after = api.get("/api/v1/wishes/")
    assert after["X-Page-Cache"] == "miss" and after.json()["results"] == []
