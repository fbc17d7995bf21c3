"""Retention: residents' personal data of long-finished wishes is erased; anonymous figures stay."""

from datetime import timedelta

import pytest
from django.db import connection

from demands import services
from demands.models import WishPhoto
from tests.demands.factories import fulfil, jpeg_upload, wish_in_state

pytestmark = pytest.mark.django_db


def test_purge_erases_contacts_of_old_finished_wishes_only(clock, org_tree, secretary_a, member_a, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    with clock.back(timedelta(days=200)):
        old_closed = wish_in_state("confirmed", org_tree.community_a, secretary_a, member_a)
        old_closed = services.wish_confirm_service(wish=old_closed, actor=secretary_a)
        old_rejected = wish_in_state("rejected", org_tree.community_a, secretary_a)
        old_open = wish_in_state("published", org_tree.community_a, secretary_a)
    recent_closed = wish_in_state("closed", org_tree.community_a, secretary_a, member_a)

    assert services.wishes_purge_contacts() == 2

    old_closed.refresh_from_db()
    assert (old_closed.contact_name, old_closed.contact_phone, old_closed.phone_hash) == ("", "", "")
    assert old_closed.description == "" and old_closed.rating_comment == "" and old_closed.preferred_time == ""
    assert old_closed.contact_purged_at is not None
    # Anonymous statistics stay.
    assert (old_closed.state, old_closed.rating, old_closed.category_id) == ("closed", 5, old_closed.category_id)
    assert old_closed.public_title == "修理水龙头" and old_closed.community == org_tree.community_a
    assert old_closed.service_record is not None
    assert not old_closed.events.filter(actor_kind__in=["resident", "member"]).exclude(reason="").exists()
    old_rejected.refresh_from_db()
    assert old_rejected.contact_phone == "" and old_rejected.public_description == "" and old_rejected.title == ""
    assert old_rejected.reject_reason  # the community's own reason is not personal data
    for wish in (recent_closed, old_open):
        wish.refresh_from_db()
        assert wish.contact_phone and wish.contact_purged_at is None
    assert services.wishes_purge_contacts() == 0  # nothing twice


def test_purge_deletes_photos(
    clock, org_tree, secretary_a, member_a, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.MEDIA_ROOT = tmp_path
    wish = wish_in_state("claimed", org_tree.community_a, secretary_a, member_a)
    wish = fulfil(wish, member_a, photos=[jpeg_upload()])
    wish = services.wish_rate(token=_token(wish), rating=4)
    services.wish_confirm_service(wish=wish, actor=secretary_a)
    clock.advance(timedelta(days=400))
    assert list(tmp_path.rglob("*.jpg"))

    with django_capture_on_commit_callbacks(execute=True):
        services.wishes_purge_contacts(older_than_days=365)

    assert not WishPhoto.objects.exists() and not list(tmp_path.rglob("*.jpg"))


def _token(wish):
    from tests.demands.factories import feedback_token

    return feedback_token(wish)


def test_the_retention_period_is_a_setting(clock, org_tree, secretary_a, settings):
    wish_in_state("withdrawn", org_tree.community_a, secretary_a)
    clock.advance(timedelta(days=40))
    settings.WISH_CONTACT_RETENTION_DAYS = 60
    assert services.wishes_purge_contacts() == 0
    settings.WISH_CONTACT_RETENTION_DAYS = 30
    assert services.wishes_purge_contacts() == 1


def test_a_purged_wish_cannot_be_tracked(clock, client, org_tree, secretary_a):
    wish = wish_in_state("withdrawn", org_tree.community_a, secretary_a, phone="13900001234")
    clock.advance(timedelta(days=365))
    services.wishes_purge_contacts()
    response = client.post("/wishes/track/", {"code": wish.tracking_code, "last4": "1234"})
    assert "查询码或手机号后四位不正确" in response.content.decode()


def test_no_trace_of_the_phone_is_left_in_the_row(clock, org_tree, secretary_a):
    wish = wish_in_state("rejected", org_tree.community_a, secretary_a, phone="13900001234")
    clock.advance(timedelta(days=365))
    services.wishes_purge_contacts()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT contact_name, contact_phone, phone_hash, title, description FROM demands_microwish WHERE id = %s",
            [wish.pk],
        )
        assert cursor.fetchone() == ("", "", "", "", "")
