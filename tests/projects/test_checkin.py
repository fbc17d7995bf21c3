"""Check-in that cannot be shared: the QR code's 30-second token, the check-in place's radius, sign-out (签退) and
the hours that follow it, and the organizer's check-in page."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from members import selectors as member_selectors
from members.models import ServiceRecord
from projects import services
from projects.models import Activity, SignUp
from tests.projects.conftest import started_ago
from tests.projects.factories import ActivityFactory

pytestmark = pytest.mark.django_db

# 幸福社区党群服务中心, somewhere in Beijing (WGS-84)
PLACE = (Decimal("39.908722"), Decimal("116.397499"))
NEAR = services.Position(latitude=39.909300, longitude=116.397499)  # ~64 m north
FAR = services.Position(latitude=39.918722, longitude=116.397499)  # ~1.1 km north


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def running(clock, org_tree, *members, **fields) -> Activity:
    """Branch A's activity with `members` signed up, started 5 minutes ago (check-in open)."""
    activity = ActivityFactory(project__organization=org_tree.branch_a, **fields)
    for member in members:
        services.signup_create(activity=activity, member=member)
    return started_ago(clock, activity, timedelta(minutes=5))


def signup(activity, member) -> SignUp:
    return SignUp.objects.get(activity=activity, member=member)


# --- The QR code's token ------------------------------------------------------------------------------------------


def test_the_token_works_in_its_step_and_the_next_only(clock, org_tree, member_a, member_b):
    activity = running(clock, org_tree, member_a, member_b)
    token = services.checkin_token(activity, clock.now)

    clock.advance(services.CHECKIN_STEP_SECONDS)  # the screen shows a new code; the one just scanned still works
    assert services.checkin_token(activity, clock.now) != token
    services.signup_check_in(activity=activity, member=member_a, token=token)
    assert signup(activity, member_a).checked_in_at == clock.now

    clock.advance(services.CHECKIN_STEP_SECONDS)  # two steps later: a forwarded photo of it no longer does
    with pytest.raises(ValidationError, match="二维码已过期"):
        services.signup_check_in(activity=activity, member=member_b, token=token)
    services.signup_check_in(activity=activity, member=member_b, token=services.checkin_token(activity, clock.now))
    assert signup(activity, member_b).checked_in_at == clock.now


def test_the_token_of_another_activity_a_forged_one_or_one_from_the_future_is_refused(clock, org_tree, member_a):
    activity = running(clock, org_tree, member_a)
    other = ActivityFactory(project__organization=org_tree.branch_a)
    step = services.checkin_token(activity, clock.now).split(".")[0]
    for token in (
        services.checkin_token(other, clock.now),
        f"{step}.{'0' * 20}",
        services.checkin_token(activity, clock.now + timedelta(seconds=services.CHECKIN_STEP_SECONDS)),
        "x.y",
        "9" * 40,
    ):
        with pytest.raises(ValidationError, match="二维码无效"):
            services.signup_check_in(activity=activity, member=member_a, token=token)
    assert signup(activity, member_a).checked_in_at is None


def test_a_new_code_ends_the_old_code_and_every_token_shown_before(clock, org_tree, member_a):
    activity = running(clock, org_tree, member_a)
    old_code, old_token = activity.checkin_code, services.checkin_token(activity, clock.now)
    activity = services.activity_new_code(activity=activity)
    with pytest.raises(ValidationError, match="二维码无效"):
        services.signup_check_in(activity=activity, member=member_a, token=old_token)
    if activity.checkin_code != old_code:  # one chance in a million that the new code is the old one
        with pytest.raises(ValidationError, match="签到码不正确"):
            services.signup_check_in(activity=activity, member=member_a, code=old_code)
    services.signup_check_in(activity=activity, member=member_a, token=services.checkin_token(activity, clock.now))
    assert signup(activity, member_a).checked_in_at is not None


def test_a_typed_code_is_tried_before_a_refused_token(clock, org_tree, member_a):
    """The page re-sent after an expired scan still holds the old token: the code the member then types counts."""
    activity = running(clock, org_tree, member_a)
    stale = services.checkin_token(activity, clock.now - timedelta(minutes=5))
    services.signup_check_in(activity=activity, member=member_a, token=stale, code=activity.checkin_code)
    assert signup(activity, member_a).checked_in_at == clock.now


# --- The check-in place -------------------------------------------------------------------------------------------


def test_haversine_distance():
    # One degree of latitude is about 111.2 km anywhere; at 60° a degree of longitude is half that.
    assert services.distance_m(0, 0, 1, 0) == pytest.approx(111_195, rel=1e-3)
    assert services.distance_m(60, 10, 60, 11) == pytest.approx(55_800, rel=1e-2)
    assert services.distance_m(*PLACE, *PLACE) == 0


def test_inside_the_radius_checks_in_with_the_distance(clock, org_tree, member_a):
    activity = running(clock, org_tree, member_a, latitude=PLACE[0], longitude=PLACE[1], checkin_radius_m=200)
    services.signup_check_in(activity=activity, member=member_a, code=activity.checkin_code, position=NEAR)
    row = signup(activity, member_a)
    assert row.checkin_position == SignUp.Position.INSIDE and 60 <= row.checkin_distance_m <= 70


def test_outside_the_radius_is_refused_with_the_distance(clock, org_tree, member_a):
    activity = running(clock, org_tree, member_a, latitude=PLACE[0], longitude=PLACE[1], checkin_radius_m=200)
    with pytest.raises(ValidationError) as refused:
        services.signup_check_in(activity=activity, member=member_a, code=activity.checkin_code, position=FAR)
    distance = round(services.distance_m(*map(float, PLACE), FAR.latitude, FAR.longitude))
    assert f"约 {distance} 米，超出了 200 米的签到范围" in refused.value.messages[0]
    assert signup(activity, member_a).checked_in_at is None


def test_no_position_is_accepted_and_marked(clock, org_tree, member_a):
    activity = running(clock, org_tree, member_a, latitude=PLACE[0], longitude=PLACE[1], checkin_radius_m=200)
    services.signup_check_in(activity=activity, member=member_a, code=activity.checkin_code, position=None)
    row = signup(activity, member_a)
    assert row.checked_in_at is not None
    assert (row.checkin_position, row.checkin_distance_m) == (SignUp.Position.UNKNOWN, None)


def test_without_a_place_the_position_is_not_checked_or_kept(clock, org_tree, member_a):
    activity = running(clock, org_tree, member_a)
    services.signup_check_in(activity=activity, member=member_a, code=activity.checkin_code, position=FAR)
    assert (signup(activity, member_a).checkin_position, signup(activity, member_a).checkin_distance_m) == ("", None)


@pytest.mark.parametrize(
    ("latitude", "longitude", "radius", "field"),
    [
        (PLACE[0], None, 200, "checkin_radius_m"),  # not all three
        (None, None, 200, "checkin_radius_m"),
        (Decimal("91"), PLACE[1], 200, "latitude"),
        (PLACE[0], Decimal("-181"), 200, "longitude"),
        (PLACE[0], PLACE[1], 10, "checkin_radius_m"),  # less than a phone's position is good to
    ],
)
def test_a_check_in_place_is_three_valid_values_or_none(org_tree, latitude, longitude, radius, field):
    with pytest.raises(ValidationError) as refused:
        ActivityFactory(
            project__organization=org_tree.branch_a, latitude=latitude, longitude=longitude, checkin_radius_m=radius
        )
    assert field in refused.value.message_dict


def test_the_database_refuses_half_a_check_in_place(org_tree):
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        Activity.objects.filter(pk=activity.pk).update(checkin_radius_m=100)


# --- Sign-out and the hours ---------------------------------------------------------------------------------------


def test_sign_out_sets_the_hours_from_check_in_to_sign_out(clock, org_tree, member_a, secretary_a):
    activity = running(clock, org_tree, member_a, signout_required=True)
    clock.advance(5 * 60)  # ten minutes after the start
    services.signup_check_in(activity=activity, member=member_a, code=activity.checkin_code)
    clock.advance(75 * 60)  # leaves after an hour and a quarter
    services.signup_check_out(activity=activity, member=member_a, token=services.checkin_token(activity, clock.now))
    row = signup(activity, member_a)
    assert row.checked_out_at - row.checked_in_at == timedelta(minutes=75)
    assert services.default_hours(row, activity) == Decimal("1.25")

    services.attendance_submit(activity=activity, marks={row.pk: ("attended", None)}, actor=secretary_a)
    record = ServiceRecord.objects.get(member=member_a, source_ref=f"activity:{activity.pk}")
    assert signup(activity, member_a).hours == record.hours == Decimal("1.25")
    # The one definition of hours (members.selectors) counts the record, so the member's figure follows the sign-out.
    assert member_selectors.counted_hours(member_a) == Decimal("1.25")


def test_hours_are_capped_by_the_activity_and_follow_the_span_inside_it(clock, org_tree, member_a):
    activity = running(clock, org_tree, member_a, signout_required=True)  # 2 hours, started 5 minutes ago
    services.signup_check_in(activity=activity, member=member_a, code=activity.checkin_code)  # 5 minutes late
    clock.advance(150 * 60)  # signs out half an hour after the end
    services.signup_check_out(activity=activity, member=member_a, code=activity.checkin_code)
    row = signup(activity, member_a)
    assert services.default_hours(row, activity) == Decimal("1.91")  # from 5 minutes after the start to the end


def test_without_a_sign_out_the_organizer_enters_the_hours(clock, org_tree, member_a, secretary_a):
    activity = running(clock, org_tree, member_a, signout_required=True)
    services.signup_check_in(activity=activity, member=member_a, code=activity.checkin_code)
    clock.advance(3 * 3600)
    row = signup(activity, member_a)
    assert services.default_hours(row, activity) is None
    with pytest.raises(ValidationError, match="没有签退，请填写其服务时长"):
        services.attendance_submit(activity=activity, marks={row.pk: ("attended", None)}, actor=secretary_a)
    services.attendance_submit(activity=activity, marks={row.pk: ("attended", "1.5")}, actor=secretary_a)
    assert signup(activity, member_a).hours == Decimal("1.50")


def test_without_sign_out_asked_the_hours_run_to_the_end_as_before(clock, org_tree, member_a):
    activity = running(clock, org_tree, member_a)
    services.signup_check_in(activity=activity, member=member_a, code=activity.checkin_code)
    assert services.default_hours(signup(activity, member_a), activity) == Decimal("1.91")
    with pytest.raises(ValidationError, match="不需要签退"):
        services.signup_check_out(activity=activity, member=member_a, code=activity.checkin_code)


def test_sign_out_needs_a_check_in_the_start_the_proof_and_no_attendance_yet(clock, org_tree, member_a, secretary_a):
    activity = ActivityFactory(project__organization=org_tree.branch_a, signout_required=True)
    services.signup_create(activity=activity, member=member_a)
    activity = started_ago(clock, activity, timedelta(minutes=-30))  # starts in half an hour: check-in is open
    services.signup_check_in(activity=activity, member=member_a, code=activity.checkin_code)
    with pytest.raises(ValidationError, match="活动开始后才能签退"):
        services.signup_check_out(activity=activity, member=member_a, code=activity.checkin_code)
    clock.advance(40 * 60)
    with pytest.raises(ValidationError, match="签到码不正确"):
        wrong = "000000" if activity.checkin_code != "000000" else "111111"
        services.signup_check_out(activity=activity, member=member_a, code=wrong)
    row = signup(activity, member_a)
    services.attendance_submit(activity=activity, marks={row.pk: ("attended", "1")}, actor=secretary_a)
    with pytest.raises(ValidationError, match="已记录考勤"):
        services.signup_check_out(activity=activity, member=member_a, code=activity.checkin_code)
    assert signup(activity, member_a).checked_out_at is None


def test_sign_out_before_check_in_is_refused_and_the_database_agrees(clock, org_tree, member_a):
    activity = running(clock, org_tree, member_a, signout_required=True)
    with pytest.raises(ValidationError, match="还没有签到"):
        services.signup_check_out(activity=activity, member=member_a, code=activity.checkin_code)
    row = signup(activity, member_a)
    with pytest.raises(IntegrityError), transaction.atomic():
        SignUp.objects.filter(pk=row.pk).update(checked_out_at=clock.now)
    services.signup_check_in(activity=activity, member=member_a, code=activity.checkin_code)
    with pytest.raises(IntegrityError), transaction.atomic():
        SignUp.objects.filter(pk=row.pk).update(checked_out_at=clock.now - timedelta(minutes=1))


def test_sign_out_outside_the_radius_is_refused(clock, org_tree, member_a):
    activity = running(
        clock, org_tree, member_a, signout_required=True, latitude=PLACE[0], longitude=PLACE[1], checkin_radius_m=200
    )
    services.signup_check_in(activity=activity, member=member_a, code=activity.checkin_code, position=NEAR)
    clock.advance(3600)
    with pytest.raises(ValidationError, match="签到范围"):
        services.signup_check_out(activity=activity, member=member_a, code=activity.checkin_code, position=FAR)
    services.signup_check_out(activity=activity, member=member_a, code=activity.checkin_code, position=NEAR)
    assert signup(activity, member_a).checked_out_at == clock.now


# --- Pages --------------------------------------------------------------------------------------------------------


def test_the_member_checks_in_and_out_through_the_pages(clock, client, org_tree, member_a):
    activity = running(
        clock, org_tree, member_a, signout_required=True, latitude=PLACE[0], longitude=PLACE[1], checkin_radius_m=200
    )
    client.force_login(member_a.user)
    checkin = reverse("projects:activity_checkin", args=[activity.pk])
    token = services.checkin_token(activity, clock.now)
    page = client.get(f"{checkin}?t={token}").content.decode()
    assert "200 米范围内" in page and 'data-geolocate="1"' in page and "js/checkin" in page

    far = client.post(checkin, {"token": token, "latitude": FAR.latitude, "longitude": FAR.longitude})
    assert far.status_code == 200 and "超出了 200 米的签到范围" in far.content.decode()
    response = client.post(checkin, {"token": token, "latitude": NEAR.latitude, "longitude": NEAR.longitude})
    assert response.status_code == 302 and any("需要签退" in m for m in messages_of(response))
    detail = client.get(reverse("projects:activity_detail", args=[activity.pk])).content.decode()
    assert 'id="signout-due"' in detail

    clock.advance(3600)
    token = services.checkin_token(activity, clock.now)
    page = client.get(f"{checkin}?t={token}").content.decode()
    assert "确认签退" in page and reverse("projects:activity_checkout", args=[activity.pk]) in page
    response = client.post(reverse("projects:activity_checkout", args=[activity.pk]), {"token": token})
    assert response.status_code == 302 and any("签退成功" in m for m in messages_of(response))
    assert signup(activity, member_a).checked_out_at == clock.now
    detail = client.get(reverse("projects:activity_detail", args=[activity.pk])).content.decode()
    assert 'id="checked-out"' in detail and 'id="signout-due"' not in detail


def test_a_check_in_without_position_says_so_and_the_sheet_shows_it(clock, client, org_tree, member_a, secretary_a):
    activity = running(clock, org_tree, member_a, latitude=PLACE[0], longitude=PLACE[1], checkin_radius_m=200)
    client.force_login(member_a.user)
    response = client.post(reverse("projects:activity_checkin", args=[activity.pk]), {"code": activity.checkin_code})
    assert any("未提供位置" in m for m in messages_of(response))
    client.force_login(secretary_a)
    sheet = client.get(reverse("projects:attendance", args=[activity.pk])).content.decode()
    assert "未提供位置" in sheet


def test_sign_out_attempts_count_against_the_check_in_limit(clock, client, org_tree, member_a, settings):
    settings.CHECKIN_ATTEMPT_LIMIT = (2, 3600)
    activity = running(clock, org_tree, member_a, signout_required=True)
    client.force_login(member_a.user)
    client.post(reverse("projects:activity_checkin", args=[activity.pk]), {"code": activity.checkin_code})
    client.post(reverse("projects:activity_checkout", args=[activity.pk]), {"code": "abcdef"})
    refused = client.post(reverse("projects:activity_checkout", args=[activity.pk]), {"code": activity.checkin_code})
    assert refused.status_code == 429 and signup(activity, member_a).checked_out_at is None


def test_the_organizer_page_shows_the_qr_and_hides_the_code_and_rotates_it(
    clock, client, org_tree, secretary_a, member_a
):
    activity = running(clock, org_tree, member_a)
    client.force_login(secretary_a)
    url = reverse("projects:activity_checkin_screen", args=[activity.pk])
    page = client.get(url)
    html = page.content.decode()
    assert page["Cache-Control"] == "private, no-store"
    assert f'id="checkin-code" hidden>{activity.checkin_code}<' in html and 'id="reveal-code"' in html
    assert "js/checkin-screen" in html and 'data-period="30"' in html
    assert "已签到 0 / 1 人" in html

    old_token = services.checkin_token(activity, clock.now)
    response = client.post(reverse("projects:activity_new_code", args=[activity.pk]))
    assert response.status_code == 302 and response["Location"] == url
    activity.refresh_from_db()
    assert len(activity.checkin_code) == 6 and any("已更换签到码" in m for m in messages_of(response))
    assert services.checkin_token(activity, clock.now) != old_token  # the QR code shown before no longer works
    assert client.get(reverse("projects:activity_new_code", args=[activity.pk])).status_code == 405


def test_the_qr_code_changes_with_the_step(clock, client, org_tree, secretary_a, member_a):
    activity = running(clock, org_tree, member_a)
    client.force_login(secretary_a)
    url = reverse("projects:activity_checkin_qr", args=[activity.pk])
    first = client.get(url).content
    assert client.get(url).content == first
    clock.advance(services.CHECKIN_STEP_SECONDS)
    assert client.get(url).content != first


def test_members_and_other_branches_get_404_from_the_organizer_pages(clock, client, org_tree, member_a, secretary_b):
    activity = running(clock, org_tree, member_a)
    old = activity.checkin_code
    for user in (member_a.user, secretary_b):
        client.force_login(user)
        assert client.get(reverse("projects:activity_checkin_screen", args=[activity.pk])).status_code == 404
        assert client.post(reverse("projects:activity_new_code", args=[activity.pk])).status_code == 404
    activity.refresh_from_db()
    assert activity.checkin_code == old
