"""The wish wall, a wish's page, claims, fulfilment with photos, the feedback link — and what each person sees."""

import io
import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from demands import services
from demands.models import ContactAccessLog, MicroWish, WishPhoto
from tests.demands.factories import feedback_token, jpeg_upload, make_team, wish_in_state

pytestmark = pytest.mark.django_db

State = MicroWish.State
PHONE = "13912345678"


@pytest.fixture
def published(org_tree, secretary_a):
    return wish_in_state("published", org_tree.community_a, secretary_a, phone=PHONE, grid=org_tree.grid_a)


def html(response) -> str:
    return response.content.decode()


# --- The wall ---------------------------------------------------------------------------------------------------


def test_the_wall_shows_published_wishes_without_personal_data(client, org_tree, secretary_a, member_a, published):
    hidden = [
        wish_in_state(s, org_tree.community_a, secretary_a, member_a) for s in ("submitted", "verified", "claimed")
    ]

    page = html(client.get("/wishes/"))

    assert f'id="wish-{published.pk}"' in page and "修理水龙头" in page
    assert all(f'id="wish-{w.pk}"' not in page for w in hidden)
    assert PHONE not in page and "5678" not in page and "张桂英" not in page
    assert "张**" in page
    assert "厨房水龙头一直滴水" not in page  # the resident's own wording stays off the wall


def test_a_resident_who_consented_is_named(client, org_tree, secretary_a):
    wish_in_state("published", org_tree.community_a, secretary_a, consent_display=True)
    assert "张桂英" in html(client.get("/wishes/"))


def test_wall_filters(client, org_tree, secretary_a, published):
    other_category = services.WishCategory.objects.get(name="法律援助")
    in_b = wish_in_state("published", org_tree.community_b, secretary_a, category=other_category)

    def ids(query):
        return set(map(int, re.findall(r'id="wish-(\d+)"', html(client.get("/wishes/?" + query)))))

    assert ids("") == {published.pk, in_b.pk}
    assert ids(f"community={org_tree.community_b.pk}") == {in_b.pk}
    assert ids(f"grid={org_tree.grid_a.pk}") == {published.pk}
    assert ids(f"category={other_category.pk}") == {in_b.pk}
    assert ids("target_group=empty_nest") == {published.pk, in_b.pk}
    assert ids("target_group=disabled") == set()
    assert ids("community=not-a-number") == {published.pk, in_b.pk}  # a bad filter is ignored, not a 500


def test_the_grid_filter_offers_the_grids_of_the_community_chosen(client, org_tree, secretary_a, published):
    """A district has hundreds of grids: the wall lists none until a community is chosen, then only its grids."""
    from members.models import Grid

    Grid.objects.create(name="二网格", community=org_tree.community_a)

    def grid_options(query):
        page = html(client.get("/wishes/?" + query))
        select = re.search(r'<select name="grid".*?</select>', page, re.S)
        return None if select is None else re.findall(r'<option value="(\d+)"', select.group(0))

    first = html(client.get("/wishes/"))
    assert grid_options("") is None and "先选择社区" in first and 'id="grid-hint"' in first
    in_a = grid_options(f"community={org_tree.community_a.pk}")
    assert sorted(map(int, in_a)) == sorted(org_tree.community_a.grids.values_list("pk", flat=True))
    assert len(in_a) == 2 and str(org_tree.grid_b.pk) not in in_a
    assert grid_options(f"grid={org_tree.grid_a.pk}") == [str(org_tree.grid_a.pk)]  # a link naming a grid works
    for junk in ("9" * 5000, "０１", "²", "-1"):  # not an id: no grids offered, no error (the fuzz test found it)
        assert grid_options(f"community={junk}&grid={junk}") is None


def test_a_wish_waiting_for_an_offering_member_is_not_on_the_wall(client, org_tree, secretary_a, member_a, helping):
    offer = services.ServiceOffer.objects.create(member=member_a, title="修理", category=helping)
    wish = wish_in_state("published", org_tree.community_a, secretary_a, offer=offer)
    assert wish.offer_pending
    assert f'id="wish-{wish.pk}"' not in html(client.get("/wishes/"))


# --- A wish's page: who sees the contact ------------------------------------------------------------------------


def _contact_views(wish):
    return list(ContactAccessLog.objects.filter(wish=wish).values_list("user__username", "role"))


def test_full_phone_only_for_the_claimer_and_the_verifying_secretary(
    client, org_tree, secretary_a, secretary_b, member_a, member_b, platform_admin, published
):
    services.wish_claim(wish=published, member=member_a)
    url = f"/wishes/{published.pk}/"
    seen = {}
    for name, user in [
        ("anonymous", None),
        ("claimer", member_a.user),
        ("other member", member_b.user),
        ("secretary A", secretary_a),
        ("secretary B", secretary_b),
        ("platform admin", platform_admin),
    ]:
        client.logout()
        if user is not None:
            client.force_login(user)
        page = html(client.get(url))
        seen[name] = (PHONE in page, "139****5678" in page)

    assert seen == {
        "anonymous": (False, False),
        "claimer": (True, False),
        "other member": (False, True),
        "secretary A": (True, False),
        "secretary B": (False, True),
        "platform admin": (True, False),
    }
    assert sorted(_contact_views(published)) == [
        ("admin", "secretary"),
        ("member_a", "claimer"),
        ("secretary_a", "secretary"),
    ]


def test_the_claimer_and_the_secretary_read_the_claimers_name_others_the_mask(
    client, org_tree, secretary_a, secretary_b, member_a, member_b, published
):
    services.wish_claim(wish=published, member=member_a)  # 李明, no consent to be named publicly
    seen = {}
    for name, user in [
        ("anonymous", None),
        ("claimer", member_a.user),
        ("other member", member_b.user),
        ("secretary A", secretary_a),
        ("secretary B", secretary_b),
    ]:
        client.logout()
        if user is not None:
            client.force_login(user)
        found = re.search(r'id="claimer-name">([^<]*)<', html(client.get(f"/wishes/{published.pk}/")))
        seen[name] = found[1]

    assert seen == {
        "anonymous": "李**",
        "claimer": "李明",
        "other member": "李**",
        "secretary A": "李明",
        "secretary B": "李**",
    }


def test_a_team_claim_names_the_team_and_to_insiders_who_claimed(client, org_tree, member_a, member_b, published):
    team = make_team(org_tree.branch_a, leader=member_a, members=[member_a])
    services.wish_claim(wish=published, member=member_a, team=team)

    client.force_login(member_a.user)
    assert 'id="claimer-name">邻里互助队 · 李明<' in html(client.get(f"/wishes/{published.pk}/"))
    client.force_login(member_b.user)
    assert 'id="claimer-name">邻里互助队<' in html(client.get(f"/wishes/{published.pk}/"))


def test_the_review_page_logs_each_view(client, secretary_a, published):
    client.force_login(secretary_a)
    client.get(reverse("demands:review_detail", args=[published.pk]))
    client.get(reverse("demands:review_detail", args=[published.pk]))
    assert _contact_views(published) == [("secretary_a", "secretary")] * 2


def test_after_closing_the_claimer_no_longer_sees_the_phone(client, org_tree, secretary_a, member_a):
    wish = wish_in_state("closed", org_tree.community_a, secretary_a, member_a, phone=PHONE)
    client.force_login(member_a.user)
    assert PHONE not in html(client.get(f"/wishes/{wish.pk}/"))


# --- Claim, release, fulfil -------------------------------------------------------------------------------------


def test_a_member_claims_from_the_page(client, member_a, published):
    client.force_login(member_a.user)

    response = client.post(f"/wishes/{published.pk}/claim/", follow=True)

    assert "认领成功" in html(response)
    published.refresh_from_db()
    assert published.claimed_by == member_a
    assert PHONE in html(response)  # the claimer now sees the contact


def test_claim_of_a_taken_wish_shows_the_message(client, member_a, member_b, published):
    services.wish_claim(wish=published, member=member_b)
    client.force_login(member_a.user)
    response = client.post(f"/wishes/{published.pk}/claim/", follow=True)
    assert "该心愿已被其他党员认领。" in html(response)


def test_claim_of_an_unpublished_wish_is_404(client, member_a, wish_a):
    client.force_login(member_a.user)
    assert client.post(f"/wishes/{wish_a.pk}/claim/").status_code == 404


def test_an_account_without_a_member_cannot_claim(client, platform_admin, published):
    client.force_login(platform_admin)
    assert client.post(f"/wishes/{published.pk}/claim/").status_code == 403


def test_release_from_the_page(client, member_a, published):
    services.wish_claim(wish=published, member=member_a)
    client.force_login(member_a.user)
    response = client.post(f"/wishes/{published.pk}/release/", {"reason": "临时出差"}, follow=True)
    assert "已放弃认领" in html(response)
    published.refresh_from_db()
    assert published.state == State.PUBLISHED


def _fulfil_data(**extra):
    data = {"note": "已上门修好。", "start": "2025-01-04T09:00", "end": "2025-01-04T10:30", "hours": "1.5"}
    data.update(extra)
    return data


def test_fulfil_with_photos_reencodes_and_strips_metadata(client, member_a, published, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    services.wish_claim(wish=published, member=member_a)
    client.force_login(member_a.user)
    uploads = [
        jpeg_upload("我家.jpg", exif=True),
        jpeg_upload("b.png", fmt="PNG", size=(3000, 2000)),
        jpeg_upload("c.webp", fmt="WEBP"),
    ]

    response = client.post(f"/wishes/{published.pk}/fulfil/", _fulfil_data(photos=uploads))

    assert response.status_code == 302
    published.refresh_from_db()
    assert published.state == State.FULFILLED and published.service_hours == 1.5
    photos = list(WishPhoto.objects.filter(wish=published))
    assert len(photos) == 3
    for photo in photos:
        assert re.fullmatch(rf"demands/photos/{published.pk}/[0-9a-f]{{32}}\.jpg", photo.image.name)
        with Image.open(photo.image.path) as image:
            assert image.format == "JPEG"
            assert max(image.size) <= 1600
            assert not image.getexif()
            assert "exif" not in image.info
    raw = photos[0].image.read()
    assert b"SecretCamera" not in raw and b"GPS-and-secrets" not in raw
    # The claimer sees the photos through the checked view; an anonymous visitor does not.
    photo_url = reverse("demands:photo", args=[published.pk, photos[0].pk])
    assert client.get(photo_url)["Content-Type"] == "image/jpeg"
    client.logout()
    assert client.get(photo_url).status_code == 302


@pytest.mark.parametrize(
    ("uploads", "message"),
    [
        (lambda: [jpeg_upload("a.gif", fmt="GIF")], "不是 JPEG、PNG 或 WebP 图片"),
        (
            lambda: [io.BytesIO(b"<html><script>alert(1)</script></html>")],
            "无法识别",
        ),
        (lambda: [jpeg_upload(f"{i}.jpg") for i in range(4)], "最多上传3张照片"),
    ],
    ids=["gif", "not-an-image", "four-photos"],
)
def test_bad_photos_change_nothing(client, member_a, published, uploads, message, settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    settings.MEDIA_ROOT = tmp_path
    services.wish_claim(wish=published, member=member_a)
    client.force_login(member_a.user)
    files = [
        f if not isinstance(f, io.BytesIO) else SimpleUploadedFile("x.jpg", f.getvalue(), "image/jpeg")
        for f in uploads()
    ]

    response = client.post(f"/wishes/{published.pk}/fulfil/", _fulfil_data(photos=files))

    assert response.status_code == 200 and message in html(response)
    published.refresh_from_db()
    assert published.state == State.CLAIMED
    assert not WishPhoto.objects.exists() and not list(tmp_path.rglob("*.jpg"))


def test_a_too_large_photo_is_refused(member_a, published, monkeypatch):
    from demands import photos

    monkeypatch.setattr(photos, "MAX_PHOTO_BYTES", 100)
    services.wish_claim(wish=published, member=member_a)
    with pytest.raises(ValidationError, match="太大"):
        services.wish_fulfil(
            wish=published,
            member=member_a,
            note="修好了",
            start=timezone.now() - timedelta(hours=2),
            end=timezone.now() - timedelta(hours=1),
            hours=1,
            photos=[jpeg_upload()],
        )


def test_bad_fulfilment_form_input(client, member_a, published):
    services.wish_claim(wish=published, member=member_a)
    client.force_login(member_a.user)

    response = client.post(f"/wishes/{published.pk}/fulfil/", _fulfil_data(note="", end="2025-01-04T08:00"))

    page = html(response)
    assert response.status_code == 200 and "这个字段是必填项。" in page and "结束时间必须晚于开始时间。" in page


def test_only_the_claimer_opens_the_fulfil_page(client, member_a, member_b, published):
    services.wish_claim(wish=published, member=member_a)
    client.force_login(member_b.user)
    assert client.get(f"/wishes/{published.pk}/fulfil/").status_code == 404


# --- Feedback ---------------------------------------------------------------------------------------------------


@pytest.fixture
def fulfilled(org_tree, secretary_a, member_a):
    return wish_in_state("fulfilled", org_tree.community_a, secretary_a, member_a)


def test_the_resident_rates_through_the_link(client, fulfilled):
    url = reverse("demands:feedback", args=[feedback_token(fulfilled)])
    assert "您的心愿实现了吗？" in html(client.get(url))

    refused = client.post(url, {"action": "rate", "rating": "5", "comment": "谢谢<b>小李</b>"})
    assert "请不要输入网页代码" in html(refused)
    response = client.post(url, {"action": "rate", "rating": "5", "comment": "谢谢小李"})

    assert "感谢您的评价！" in html(response)
    fulfilled.refresh_from_db()
    assert (fulfilled.state, fulfilled.rating, fulfilled.rating_comment) == (State.CONFIRMED, 5, "谢谢小李")
    assert client.get(url).status_code == 404  # used


def test_rating_without_stars_asks_for_them(client, fulfilled):
    url = reverse("demands:feedback", args=[feedback_token(fulfilled)])
    response = client.post(url, {"action": "rate"})
    assert "请选择1到5星。" in html(response)
    fulfilled.refresh_from_db()
    assert fulfilled.state == State.FULFILLED


def test_not_yet_fulfilled_through_the_link(client, fulfilled):
    url = reverse("demands:feedback", args=[feedback_token(fulfilled)])
    response = client.post(url, {"action": "not_yet", "comment": "还在漏水"})
    assert "心愿已退回认领的党员" in html(response)
    fulfilled.refresh_from_db()
    assert fulfilled.state == State.CLAIMED


@pytest.mark.parametrize("token", ["nonsense", "x" * 200])
def test_an_unknown_link_is_404_with_help(client, fulfilled, token):
    response = client.get(reverse("demands:feedback", args=[token]))
    assert response.status_code == 404 and "链接已失效" in html(response)


# --- HTML is escaped on every page ------------------------------------------------------------------------------


def test_markup_is_shown_escaped_everywhere(client, org_tree, secretary_a, member_a):
    evil = '<script>alert("x")</script>'
    wish = wish_in_state("submitted", org_tree.community_a, secretary_a, contact_name="张<i>三</i>")
    services.wish_verify(
        wish=wish,
        actor=secretary_a,
        public_title=f"修理{evil}",
        public_description=f"内容{evil}",
        category=wish.category,
        grid=None,
        target_group="general",
        note=evil,
    )
    services.wish_publish(wish=wish, actor=secretary_a)
    pages = [client.get("/wishes/")]
    services.wish_claim(wish=wish, member=member_a)
    wish = services.wish_fulfil(
        wish=wish,
        member=member_a,
        note=f"做完了{evil}",
        start=timezone.now() - timedelta(hours=2),
        end=timezone.now() - timedelta(hours=1),
        hours=1,
    )
    token = feedback_token(wish)
    pages += [client.get(f"/wishes/{wish.pk}/"), client.get(reverse("demands:feedback", args=[token]))]
    services.wish_rate(token=token, rating=4, comment=evil)
    client.force_login(member_a.user)
    pages += [client.get(f"/wishes/{wish.pk}/"), client.get("/wishes/mine/")]
    client.force_login(secretary_a)
    pages += [
        client.get(reverse("demands:review") + "?tab=confirm"),
        client.get(reverse("demands:review_detail", args=[wish.pk])),
        client.get(reverse("admin:demands_microwish_changelist")),
        client.get(reverse("admin:demands_microwish_change", args=[wish.pk])),
    ]
    for response in pages:
        assert response.status_code == 200, response.request["PATH_INFO"]
        page = html(response)
        assert evil not in page and "<i>三</i>" not in page, response.request["PATH_INFO"]
    assert "&lt;script&gt;" in html(pages[0])
