"""The member portal (/me/…) and the secretaries' 双报到 queue: who may open what, what each page shows, and how
each form answers good and bad input."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from members import services
from members.availability import from_mask
from members.models import Member, ResidenceRegistration, Tag
from tests.members.factories import GridFactory, MemberFactory, ServiceRecordFactory, TagFactory
from tests.queries import assert_constant_queries

pytestmark = pytest.mark.django_db

ME = reverse("members:me")
PROFILE = reverse("members:me_profile")
RESIDENCE = reverse("members:me_residence")
RECORDS = reverse("members:me_records")
QUEUE = reverse("members:residence_queue")


def _record(member, *, verifier=None, day: datetime | None = None, hours="2.00", content="为空巢老人打扫卫生"):
    start = day or (timezone.localtime() - timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    record = ServiceRecordFactory(
        member=member, start=start, end=start + timedelta(hours=3), hours=Decimal(hours), content=content
    )
    if verifier is not None:
        record = services.service_record_verify(record=record, verifier=verifier)
    return record


# --- Permission table -------------------------------------------------------------------------------------------


@pytest.fixture
def scene(org_tree, member_a, member_b, secretary_a, secretary_b):
    """A pending 双报到 at each side's community, by that side's member."""
    return {
        "a": services.residence_register(member=member_a, community=org_tree.community_a, actor=None),
        "b": services.residence_register(member=member_b, community=org_tree.community_b, actor=None),
    }


PERSONAS = ("anonymous", "member", "secretary_a", "secretary_b", "platform_admin", "staff_without_scope")
MEMBER_PAGES = (ME, PROFILE, RESIDENCE, RECORDS, reverse("members:me_certificate"))


def _sign_in(persona, request, client):
    if persona != "anonymous":
        user = request.getfixturevalue("member_a" if persona == "member" else persona)
        client.force_login(getattr(user, "user", user))
    return client


def _expected_member_page(persona):
    if persona == "anonymous":
        return 302
    # Secretaries are members too; a platform admin or a staff account without a member record has no portal.
    return 404 if persona in ("platform_admin", "staff_without_scope") else 200


def _expected_secretary_page(persona, side):
    if persona == "anonymous":
        return 302
    if persona == "platform_admin" or persona == f"secretary_{side}":
        return 200
    return 404


@pytest.mark.parametrize("persona", PERSONAS)
def test_permission_table_of_the_member_pages(persona, scene, request, client):
    client = _sign_in(persona, request, client)
    wrong = []
    for url in MEMBER_PAGES:
        response = client.get(url)
        expected = _expected_member_page(persona)
        if response.status_code != expected:
            wrong.append(f"{url}: {response.status_code}, expected {expected}")
        elif expected == 302 and not response.url.startswith(reverse("login")):
            wrong.append(f"{url}: redirected to {response.url}")
    assert not wrong, f"{persona}:\n" + "\n".join(wrong)


@pytest.mark.parametrize("persona", PERSONAS)
def test_permission_table_of_the_secretary_pages(persona, scene, member_a, member_b, request, client):
    client = _sign_in(persona, request, client)
    pages = [(QUEUE, "get", None)]
    for side, member in (("a", member_a), ("b", member_b)):
        pages.append((reverse("members:member_certificate", args=[member.volunteer_number]), "get", side))
        pages.append((reverse("members:residence_confirm", args=[scene[side].pk]), "post", side))
    wrong = []
    for url, method, side in pages:
        response = getattr(client, method)(url)
        if side is None:  # the queue: any secretary or platform admin
            expected = 302 if persona == "anonymous" else (404 if persona in ("member", "staff_without_scope") else 200)
        else:
            expected = _expected_secretary_page(persona, side)
            if method == "post" and expected == 200:
                expected = 302  # confirmed, back to the queue
        if response.status_code != expected:
            wrong.append(f"{method} {url}: {response.status_code}, expected {expected}")
        elif response.status_code == 302 and persona == "anonymous":
            assert response.url.startswith(reverse("login"))
    assert not wrong, f"{persona}:\n" + "\n".join(wrong)


def test_an_out_of_scope_confirmation_changes_nothing(scene, secretary_a, client):
    client.force_login(secretary_a)
    assert client.post(reverse("members:residence_confirm", args=[scene["b"].pk])).status_code == 404
    scene["b"].refresh_from_db()
    assert scene["b"].status == ResidenceRegistration.Status.PENDING


def test_the_home_branch_sees_but_does_not_confirm_a_registration_elsewhere(org_tree, member_b, secretary_b, client):
    """Member B lives in branch A's community: branch A's secretary confirms, not B's own branch."""
    registration = services.residence_register(member=member_b, community=org_tree.community_a, actor=None)
    client.force_login(secretary_b)
    assert registration.pk not in [r.pk for r in client.get(QUEUE).context["registrations"]]
    assert client.post(reverse("members:residence_confirm", args=[registration.pk])).status_code == 404


def test_confirmation_is_get_proof(scene, secretary_a, client):
    client.force_login(secretary_a)
    assert client.get(reverse("members:residence_confirm", args=[scene["a"].pk])).status_code == 405


# --- /me/ -------------------------------------------------------------------------------------------------------


def test_profile_page_shows_the_members_own_data_with_the_phone_masked(member_a, secretary_a, org_tree, client):
    services.member_update_profile(
        member=member_a,
        actor=None,
        skills=[TagFactory(kind=Tag.Kind.SKILL, name="理发")],
        interests=[TagFactory(kind=Tag.Kind.INTEREST, name="书法")],
        availability=0b101,  # Monday morning and evening
    )
    services.residence_register(member=member_a, community=org_tree.community_a, actor=None)
    _record(member_a, verifier=secretary_a, hours="2.50")
    client.force_login(member_a.user)

    response = client.get(ME)

    content = response.content.decode()
    for text in (
        "李明",
        member_a.volunteer_number,
        "东一支部",
        member_a.phone_masked,
        "理发",
        "书法",
        "东风村",
        "待确认",
    ):
        assert text in content, text
    assert member_a.phone not in content
    assert response.context["availability"][0] == ("周一", [True, False, True])
    assert response.context["total_hours"] == Decimal("2.50")


# --- /me/profile/ -----------------------------------------------------------------------------------------------


@pytest.fixture
def tags(db):
    return {
        "skill": TagFactory(kind=Tag.Kind.SKILL, name="维修家电"),
        "interest": TagFactory(kind=Tag.Kind.INTEREST, name="读书"),
    }


def _profile_data(**overrides):
    data = {
        "name": "李明明",
        "phone": "139 0000 1111",
        "gender": "male",
        "birth_year": "1980",
        "availability": ["wed-pm", "sat-am"],
        "show_full_name_publicly": "on",
    }
    data.update(overrides)
    return data


def test_member_edits_their_profile(member_a, tags, client):
    client.force_login(member_a.user)
    data = _profile_data(skills=[tags["skill"].pk], interests=[tags["interest"].pk])

    response = client.post(PROFILE, data)

    assert response.status_code == 302
    assert response.url == ME
    member = Member.objects.get(pk=member_a.pk)
    assert member.name == "李明明"
    assert member.phone == "13900001111"
    assert member.gender == "male"
    assert member.birth_year == 1980
    assert list(member.skills.all()) == [tags["skill"]]
    assert list(member.interests.all()) == [tags["interest"]]
    assert from_mask(member.availability) == ["wed-pm", "sat-am"]
    assert member.show_full_name_publicly is True
    assert member.full_name_consent_at is not None
    assert member.history.latest().history_user == member_a.user


def test_profile_form_is_prefilled(member_a, client):
    client.force_login(member_a.user)
    form = client.get(PROFILE).context["form"]
    assert form.initial["name"] == "李明"
    assert form.initial["phone"] == member_a.phone


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"name": "  "}, "name", "这个字段是必填项"),
        ({"phone": "12345"}, "phone", "请输入11位中国大陆手机号码"),
        ({"birth_year": "1850"}, "birth_year", "大于或等于1900"),
        ({"birth_year": lambda today: str(today.year + 1)}, "birth_year", "小于或等于"),
        ({"birth_year": "abc"}, "birth_year", "输入整数"),
        ({"availability": ["mon-night"]}, "availability", "mon-night 不在可用的选项中"),
        ({"skills": ["999999"]}, "skills", "999999 不在可用的选项中"),
        ({"skills": ["x"]}, "skills", "“x”不是一个有效的值"),
        ({"gender": "other"}, "gender", "other"),
    ],
)
def test_bad_profile_input_is_shown_on_the_form_and_saves_nothing(member_a, client, overrides, field, message):
    client.force_login(member_a.user)
    before = Member.objects.get(pk=member_a.pk)

    overrides = {k: v(timezone.localdate()) if callable(v) else v for k, v in overrides.items()}
    response = client.post(PROFILE, _profile_data(**overrides))

    assert response.status_code == 200
    errors = " ".join(response.context["form"].errors.get(field, []))
    assert errors and message in errors
    after = Member.objects.get(pk=member_a.pk)
    assert (after.name, after.phone, after.birth_year, after.availability) == (
        before.name,
        before.phone,
        before.birth_year,
        before.availability,
    )


def test_a_phone_used_by_another_member_is_refused(member_a, member_b, client):
    client.force_login(member_a.user)
    response = client.post(PROFILE, _profile_data(phone=member_b.phone))
    assert response.status_code == 200
    assert "该手机号已被其他党员使用。" in response.context["form"].errors["phone"]
    member_a.refresh_from_db()
    assert member_a.name == "李明"


def test_withdrawing_the_name_consent_clears_its_time(member_a, client):
    services.member_set_name_consent(member=member_a, consent=True)
    client.force_login(member_a.user)
    data = _profile_data()
    del data["show_full_name_publicly"]
    assert client.post(PROFILE, data).status_code == 302
    member_a.refresh_from_db()
    assert (member_a.show_full_name_publicly, member_a.full_name_consent_at) == (False, None)


# --- /me/residence/ and the queue -------------------------------------------------------------------------------


def test_member_registers_and_the_community_secretary_confirms(member_b, org_tree, secretary_a, client):
    client.force_login(member_b.user)
    response = client.post(RESIDENCE, {"community": org_tree.community_a.pk, "grid": org_tree.grid_a.pk})
    assert response.status_code == 302
    registration = ResidenceRegistration.objects.get(member=member_b)
    assert (registration.community, registration.grid, registration.status) == (
        org_tree.community_a,
        org_tree.grid_a,
        ResidenceRegistration.Status.PENDING,
    )
    assert "待确认" in client.get(RESIDENCE).content.decode()

    client.force_login(secretary_a)
    queue = client.get(QUEUE)
    assert [r.pk for r in queue.context["registrations"]] == [registration.pk]
    assert "周红" in queue.content.decode()
    response = client.post(reverse("members:residence_confirm", args=[registration.pk]), follow=True)
    assert "已确认 周红 在东风村的报到。" in response.content.decode()
    registration.refresh_from_db()
    assert registration.status == ResidenceRegistration.Status.CONFIRMED
    assert registration.confirmed_by == secretary_a
    assert response.context["registrations"] == []


def test_confirming_twice_says_so(scene, secretary_a, client):
    client.force_login(secretary_a)
    url = reverse("members:residence_confirm", args=[scene["a"].pk])
    assert client.post(url).status_code == 302
    assert client.post(url).status_code == 404  # no longer in the queue


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({}, "community", "这个字段是必填项"),
        ({"community": "999999"}, "community", "选择一个有效的选项"),
        ({"community": "abc"}, "community", "选择一个有效的选项"),
        ({"community": "{a}", "grid": "{b}"}, "grid", "所选网格不属于该社区（村）。"),
    ],
)
def test_bad_residence_input_is_shown_and_saves_nothing(member_a, org_tree, client, data, field, message):
    ids = {"{a}": str(org_tree.community_a.pk), "{b}": str(org_tree.grid_b.pk)}
    data = {key: ids.get(value, value) for key, value in data.items()}
    client.force_login(member_a.user)

    response = client.post(RESIDENCE, data)

    assert response.status_code == 200
    assert any(message in error for error in response.context["form"].errors[field])
    assert not ResidenceRegistration.objects.filter(member=member_a).exists()


def test_registering_again_at_the_same_community_is_a_message(member_a, org_tree, client):
    services.residence_register(member=member_a, community=org_tree.community_a, actor=None)
    client.force_login(member_a.user)
    response = client.post(RESIDENCE, {"community": org_tree.community_a.pk})
    assert response.status_code == 200
    assert "李明 已在该社区报到。" in response.context["form"].non_field_errors()
    assert ResidenceRegistration.objects.filter(member=member_a).count() == 1


def test_moving_ends_the_previous_registration(member_a, org_tree, client):
    services.residence_register(member=member_a, community=org_tree.community_a, actor=None)
    client.force_login(member_a.user)
    assert client.post(RESIDENCE, {"community": org_tree.community_b.pk}).status_code == 302
    statuses = dict(ResidenceRegistration.objects.filter(member=member_a).values_list("community__name", "status"))
    assert statuses == {"东风村": "ended", "西岭村": "pending"}


def test_queue_queries_do_not_grow_with_registrations(org_tree, secretary_a, client):
    client.force_login(secretary_a)

    def add_registrations(n):
        for member in MemberFactory.create_batch(n, organization=org_tree.branch_b):
            grid = GridFactory(community=org_tree.community_a)
            services.residence_register(member=member, community=org_tree.community_a, grid=grid, actor=None)

    assert_constant_queries(client, QUEUE, add_registrations)


# --- /me/records/ -----------------------------------------------------------------------------------------------


def test_records_newest_first_with_status_source_and_yearly_totals(member_a, secretary_a, client):
    tz = timezone.get_current_timezone()
    old = _record(member_a, verifier=secretary_a, day=datetime(2024, 5, 1, 9, tzinfo=tz), hours="3.00", content="旧")
    new = _record(member_a, verifier=secretary_a, day=datetime(2025, 3, 1, 9, tzinfo=tz), hours="1.50", content="新")
    pending = _record(member_a, day=datetime(2025, 4, 1, 9, tzinfo=tz), content="待确认的服务")
    void = _record(member_a, verifier=secretary_a, day=datetime(2025, 2, 1, 9, tzinfo=tz), content="作废的服务")
    services.service_record_void(record=void, actor=secretary_a, reason="重复录入")
    _record(MemberFactory(), content="别人的服务")
    client.force_login(member_a.user)

    response = client.get(RECORDS)

    assert [r.pk for r in response.context["page"].object_list] == [pending.pk, new.pk, void.pk, old.pk]
    assert [(row["year"], row["hours"]) for row in response.context["yearly_totals"]] == [
        (2025, Decimal("1.50")),
        (2024, Decimal("3.00")),
    ]
    content = response.content.decode()
    for text in ("待确认", "已确认", "已作废", "手工录入", "东一支部"):
        assert text in content
    assert "别人的服务" not in content
    assert response.context["total_hours"] == Decimal("4.50")


def test_records_queries_do_not_grow_with_rows(member_a, secretary_a, client):
    client.force_login(member_a.user)
    tz = timezone.get_current_timezone()
    days = iter(range(400))

    def add_records(n):
        for _ in range(n):
            i = next(days)
            day = datetime(2023 + i % 3, 1, 1, 9, tzinfo=tz) + timedelta(days=i)
            _record(member_a, verifier=secretary_a if i % 2 else None, day=day)

    # user, member, yearly totals, total hours, hours by source, page count, page of records with their
    # organization, their corrections (the session comes from the cache; new records drop the member's cached page,
    # so both visits render it)
    assert assert_constant_queries(client, RECORDS, add_records) == 8


def test_records_page_beyond_the_last_is_the_last(member_a, client):
    client.force_login(member_a.user)
    assert client.get(RECORDS, {"page": "999"}).status_code == 200
    assert client.get(RECORDS, {"page": "abc"}).status_code == 200


def test_portal_pages_cost_the_same_whatever_the_number_of_tags_and_registrations(member_a, org_tree, client):
    client.force_login(member_a.user)
    counter = iter(range(1000))

    def add_rows(n):
        for _ in range(n):
            i = next(counter)
            skill = TagFactory(kind=Tag.Kind.SKILL, name=f"特长{i}")
            interest = TagFactory(kind=Tag.Kind.INTEREST, name=f"兴趣{i}")
            member_a.skills.add(skill)
            member_a.interests.add(interest)
            community = org_tree.community_a if i % 2 else org_tree.community_b
            grid = GridFactory(community=community)
            services.residence_register(member=member_a, community=community, grid=grid, actor=None)

    for url in (ME, PROFILE, RESIDENCE):
        assert_constant_queries(client, url, add_rows)


def test_an_id_beyond_any_row_is_404(secretary_a, client):
    client.force_login(secretary_a)
    assert client.post(reverse("members:residence_confirm", args=[10**20])).status_code == 404
