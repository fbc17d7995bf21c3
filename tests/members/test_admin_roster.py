"""The member roster as a secretary uses it: masked phones, exact search, scoped filters, bulk actions."""

import re

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse

from members import services
from members.models import Member, Tag, Transfer
from tests.members.factories import MemberFactory, OrganizationFactory, TagFactory
from tests.queries import assert_constant_queries

pytestmark = pytest.mark.django_db

ROSTER = reverse("admin:members_member_changelist")


def _result_table(response) -> str:
    """The text of a changelist's data rows ('' when nothing matched: Django then draws no table). Markup is left
    out: Django repeats the search term the secretary typed in the sort and change links."""
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="changelist"' in html
    match = re.search(r'<table id="result_list">.*?(<tbody>.*?</tbody>)', html, re.S)
    return re.sub(r"<[^>]+>", " ", match.group(1)) if match else ""


@pytest.fixture
def signed_in_a(client, secretary_a):
    client.force_login(secretary_a)
    return client


def test_roster_shows_masked_phones_only(signed_in_a, member_a):
    html = signed_in_a.get(ROSTER).content.decode()
    assert member_a.volunteer_number in html
    assert member_a.phone_masked in html
    assert member_a.phone not in html


def test_phone_search_is_exact_in_any_spelling(signed_in_a, member_a, org_tree):
    other = MemberFactory(organization=org_tree.branch_a)
    spaced = f"{member_a.phone[:3]} {member_a.phone[3:7]} {member_a.phone[7:]}"
    for term in (member_a.phone, spaced, f"+86{member_a.phone}"):
        table = _result_table(signed_in_a.get(ROSTER, {"q": term}))
        assert member_a.volunteer_number in table, term
        assert other.volunteer_number not in table
        assert member_a.phone not in table
    # A part of a number matches nothing: the column is encrypted, only the whole number's hash is searchable.
    assert member_a.volunteer_number not in _result_table(signed_in_a.get(ROSTER, {"q": member_a.phone[:7]}))


def test_phone_search_stays_in_scope(signed_in_a, member_b):
    assert member_b.volunteer_number not in _result_table(signed_in_a.get(ROSTER, {"q": member_b.phone}))


def test_search_by_name_volunteer_number_and_id_number(signed_in_a, member_a, org_tree):
    other = MemberFactory(organization=org_tree.branch_a, name="陈刚")
    services.member_update_profile(member=other, actor=None, id_number="11010519491231002X")
    assert other.volunteer_number not in _result_table(signed_in_a.get(ROSTER, {"q": "李明"}))
    assert member_a.volunteer_number in _result_table(signed_in_a.get(ROSTER, {"q": "李明"}))
    table = _result_table(signed_in_a.get(ROSTER, {"q": member_a.volunteer_number.lower()}))
    assert member_a.volunteer_number in table and other.volunteer_number not in table
    table = _result_table(signed_in_a.get(ROSTER, {"q": "11010519491231002x"}))
    assert other.volunteer_number in table and member_a.volunteer_number not in table


def test_filters_offer_only_what_is_in_scope(client, east_secretary, member_a, member_b, org_tree):
    skill = TagFactory(kind=Tag.Kind.SKILL, name="修电器")
    services.member_update_profile(member=member_a, actor=None, skills=[skill])
    services.residence_register(member=member_a, community=org_tree.community_b, actor=None)
    client.force_login(east_secretary)
    html = client.get(ROSTER).content.decode()
    assert "东一支部" in html and "西一支部" not in html
    assert "修电器" in html
    assert "西岭村" in html  # member A lives in the west village: the residence filter and column show it
    table = _result_table(client.get(ROSTER, {"residence": org_tree.community_b.pk}))
    assert member_a.volunteer_number in table
    assert member_a.volunteer_number not in _result_table(client.get(ROSTER, {"status": "inactive"}))


def test_roster_queries_do_not_grow_with_rows(signed_in_a, org_tree):
    skill = TagFactory(kind=Tag.Kind.SKILL, name="理发")

    def add_members(n):
        for member in MemberFactory.create_batch(n, organization=org_tree.branch_a):
            services.member_update_profile(member=member, actor=None, skills=[skill])
            services.residence_register(member=member, community=org_tree.community_a, actor=None)

    # session, user, "manages an organization?", the choices of the organization, skill and residence filters,
    # the filtered and the total count, the user's permissions and group permissions (other apps' admins in the
    # sidebar), the page of members, their current 双报到 rows: 12 — the same for 5 and for 50 members.
    queries = assert_constant_queries(signed_in_a, ROSTER, add_members)
    assert queries <= 12


def test_roster_queries_for_the_platform_admin(client, platform_admin, org_tree):
    client.force_login(platform_admin)
    assert_constant_queries(
        client, ROSTER, lambda n: MemberFactory.create_batch(n, organization=org_tree.branch_b), small=5, large=50
    )


def test_bulk_deactivate_goes_through_an_intermediate_page(signed_in_a, member_a, member_b, org_tree):
    helper = MemberFactory(organization=org_tree.branch_a)
    selected = [member_a.pk, helper.pk, member_b.pk]  # B's member is out of scope: silently not in the queryset
    page = signed_in_a.post(ROSTER, {"action": "deactivate_selected", ACTION_CHECKBOX_NAME: selected})
    assert page.status_code == 200
    assert "停用或免除所选党员" in page.content.decode()
    assert "周红" not in page.content.decode()
    response = signed_in_a.post(
        ROSTER,
        {
            "action": "deactivate_selected",
            ACTION_CHECKBOX_NAME: selected,
            "apply": "1",
            "status": "exempt",
            "reason": "年满70岁",
        },
    )
    assert response.status_code == 302
    statuses = dict(Member.objects.values_list("pk", "status"))
    assert (statuses[member_a.pk], statuses[helper.pk], statuses[member_b.pk]) == ("exempt", "exempt", "active")
    assert Member.objects.get(pk=helper.pk).history.latest().history_user.username == "secretary_a"


def test_bulk_transfer_is_all_or_nothing(client, east_secretary, member_a, org_tree):
    a2 = OrganizationFactory(name="东二支部", parent=org_tree.east)
    already_there = MemberFactory(organization=a2)
    client.force_login(east_secretary)
    page = client.post(ROSTER, {"action": "transfer_selected", ACTION_CHECKBOX_NAME: [member_a.pk]})
    options = page.content.decode()
    assert "东二支部" in options and "西一支部" not in options  # targets: branches in scope
    response = client.post(
        ROSTER,
        {
            "action": "transfer_selected",
            ACTION_CHECKBOX_NAME: [member_a.pk, already_there.pk],
            "apply": "1",
            "to_organization": a2.pk,
        },
        follow=True,
    )
    assert "没有做任何更改" in response.content.decode()
    assert "已在东二支部" in response.content.decode()
    assert not Transfer.objects.exists()
    client.post(
        ROSTER,
        {"action": "transfer_selected", ACTION_CHECKBOX_NAME: [member_a.pk], "apply": "1", "to_organization": a2.pk},
    )
    member_a.refresh_from_db()
    assert member_a.organization == a2
    assert Transfer.objects.get().from_organization == org_tree.branch_a


def test_transfer_to_a_branch_out_of_scope_is_refused(signed_in_a, member_a, org_tree):
    response = signed_in_a.post(
        ROSTER,
        {
            "action": "transfer_selected",
            ACTION_CHECKBOX_NAME: [member_a.pk],
            "apply": "1",
            "to_organization": org_tree.branch_b.pk,
        },
    )
    assert response.status_code == 200  # the form again, with its error
    assert "选择一个有效的选项" in response.content.decode()
    member_a.refresh_from_db()
    assert member_a.organization == org_tree.branch_a


def _member_form(org, **overrides):
    data = {"name": "吴芳", "gender": "female", "birth_year": "1985", "phone": "139 1111 2222", "organization": org.pk}
    data.update(overrides)
    return data


def test_adding_a_member_calls_the_service(signed_in_a, org_tree):
    response = signed_in_a.post(
        reverse("admin:members_member_add"), _member_form(org_tree.branch_a, availability=["mon-am", "sun-eve"])
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    member = Member.objects.get(name="吴芳")
    assert member.volunteer_number.startswith("V") and member.user.username == member.volunteer_number
    assert member.phone == "13911112222"
    assert member.availability == (1 << 0) | (1 << 20)
    assert member.history.latest().history_user.username == "secretary_a"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"phone": "123"}, "请输入11位中国大陆手机号码"),
        ({"id_number": "110105194912310021"}, "身份证号码校验位不正确"),
    ],
)
def test_bad_member_input_is_shown_on_the_form(signed_in_a, org_tree, overrides, message):
    response = signed_in_a.post(reverse("admin:members_member_add"), _member_form(org_tree.branch_a, **overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Member.objects.filter(name="吴芳").exists()


def test_duplicate_phone_is_shown_on_the_form(signed_in_a, org_tree, member_b):
    response = signed_in_a.post(
        reverse("admin:members_member_add"), _member_form(org_tree.branch_a, phone=member_b.phone)
    )
    assert "该手机号已被其他党员使用" in response.content.decode()


def test_a_member_cannot_be_added_to_a_branch_out_of_scope(signed_in_a, org_tree):
    response = signed_in_a.post(reverse("admin:members_member_add"), _member_form(org_tree.branch_b))
    assert response.status_code == 200
    assert not Member.objects.filter(name="吴芳").exists()


def test_editing_keeps_the_id_number_unless_a_new_one_is_typed(signed_in_a, member_a):
    services.member_update_profile(member=member_a, actor=None, id_number="11010519491231002X")
    url = reverse("admin:members_member_change", args=[member_a.pk])
    page = signed_in_a.get(url).content.decode()
    assert "11010519491231002X" not in page
    assert "1101**********002X" in page
    response = signed_in_a.post(url, {"name": "李明明", "phone": member_a.phone, "gender": "", "birth_year": ""})
    assert response.status_code == 302, response.content.decode()[:3000]
    member_a.refresh_from_db()
    assert (member_a.name, member_a.id_number) == ("李明明", "11010519491231002X")
    assert member_a.organization.name == "东一支部"  # read-only here: only the transfer action moves a member


def test_history_page_shows_who_changed_what(signed_in_a, member_a, secretary_a, org_tree):
    services.member_deactivate(member=member_a, actor=secretary_a, reason="长期外出")
    html = signed_in_a.get(reverse("admin:members_member_history", args=[member_a.pk])).content.decode()
    assert "长期外出" in html
    assert "secretary_a" in html
