"""members.demo.seed and `seed_demo --members N`: a realistic street, idempotent, scaling in bulk; the demo sign-ins
work and each sees what their role should."""

import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db.models import Count
from django.urls import reverse
from django.utils import timezone

from members import demo
from members.identifiers import normalize_mobile
from members.models import (
    Community,
    Grid,
    Member,
    Organization,
    ResidenceRegistration,
    ServiceRecord,
    Tag,
    Team,
)
from tests.members.factories import MemberFactory, OrganizationFactory
from volunteer_platform.demo import DEMO_ACCOUNTS, DEMO_PASSWORD

pytestmark = pytest.mark.django_db

User = get_user_model()
ROSTER = reverse("admin:members_member_changelist")


def _counts() -> dict[str, object]:
    return {
        "organizations": Organization.objects.count(),
        "communities": Community.objects.count(),
        "grids": Grid.objects.count(),
        "users": User.objects.count(),
        "members": Member.objects.count(),
        "member history": Member.history.count(),
        "tags": Tag.objects.count(),
        "skill links": Member.skills.through.objects.count(),
        "teams": Team.objects.count(),
        "team members": Team.members.through.objects.count(),
        "registrations": sorted(ResidenceRegistration.objects.values_list("status").annotate(n=Count("pk"))),
        "records": sorted(ServiceRecord.objects.values_list("status").annotate(n=Count("pk"))),
        "secretaries": Organization.objects.filter(secretary__isnull=False).count(),
    }


def _demo_members():
    return Member.objects.filter(
        organization__path__startswith=Organization.objects.get(name=demo.STREET).path
    ) | Member.objects.filter(organization__name=demo.WORKPLACE[1])


@pytest.fixture
def street(db):
    demo.seed(password=DEMO_PASSWORD)


def test_the_street_is_realistic(street):
    root = Organization.objects.get(name=demo.STREET, parent=None)
    assert root.type == Organization.Type.WORKING_COMMITTEE
    committees = Organization.objects.filter(parent=root)
    assert committees.count() == 3 and {c.type for c in committees} == {Organization.Type.COMMITTEE}
    for committee in committees:
        assert committee.communities.count() == 1
        branches = committee.children.all()
        assert 3 <= branches.count() <= 4 and {b.type for b in branches} == {Organization.Type.BRANCH}
        assert committee.secretary is not None
    assert all(grid.leader is not None for grid in Grid.objects.all()) and Grid.objects.count() == 9
    assert _demo_members().count() == 300

    members = list(Member.objects.all())
    assert all(re.fullmatch(r"[\u4e00-\u9fff]{2,3}", m.name) for m in members)
    phones = [m.phone for m in members]
    assert len(set(phones)) == len(phones) and all(normalize_mobile(p) == p for p in phones)
    assert {m.gender for m in members} == {"male", "female"}
    assert min(m.birth_year for m in members) >= 1945 and max(m.birth_year for m in members) <= 2000
    this_year = timezone.localdate().year
    exempt = [m for m in members if m.status == Member.Status.EXEMPT]
    assert exempt and all(m.birth_year <= this_year - 70 for m in exempt)
    assert sum(1 for m in members if m.availability) == len(members)
    assert Member.skills.through.objects.count() > 100 and Member.interests.through.objects.count() >= 300

    assert Team.objects.filter(name="银龄先锋服务队").exists() and Team.objects.count() == 4
    registrations = dict(ResidenceRegistration.objects.values_list("status").annotate(n=Count("pk")))
    assert registrations.get("pending") and registrations.get("confirmed")
    records = dict(ServiceRecord.objects.values_list("status").annotate(n=Count("pk")))
    assert records.get("pending") and records.get("verified")


def test_a_second_run_changes_nothing(street):
    first = _counts()
    demo.seed(password=DEMO_PASSWORD)
    assert _counts() == first


def test_seed_demo_members_adds_the_right_number_quickly():
    started = time.perf_counter()
    call_command("seed_demo", "--members", "500")
    assert _demo_members().count() == 500
    call_command("seed_demo", "--members", "520")
    assert _demo_members().count() == 520
    call_command("seed_demo", "--members", "100")  # never removes
    assert _demo_members().count() == 520
    # In bulk: about 20 s on a quiet day; 60.3 s once in CI on a virtual machine losing up to half its CPU to steal
    # while another server ran beside it. Seeding row by row (one save per member, record and wish) would take
    # several times longer than this bound.
    assert time.perf_counter() - started < 120


def test_a_number_already_registered_is_skipped_and_made_up_for(db):
    MemberFactory(organization=OrganizationFactory(name="外单位支部"), phone=demo.generated_phone(0))
    demo.seed(members=20)
    assert _demo_members().count() == 20
    assert Member.objects.count() == 21


def test_the_demo_sign_ins_work_and_see_their_own_part(client):
    call_command("seed_demo")
    usernames = [account.username for account in DEMO_ACCOUNTS]
    assert usernames == ["admin", "shequ", "zhibu", "dangyuan"]
    for username in usernames:
        assert client.login(username=username, password=DEMO_PASSWORD), username
        client.logout()

    xingfu = Organization.objects.get(name="幸福里社区党委")
    first_branch = Organization.objects.get(name="幸福里社区第一党支部")
    assert xingfu.secretary.user.username == "shequ"
    assert first_branch.secretary.user.username == "zhibu"
    dangyuan = Member.objects.get(user__username="dangyuan")
    assert dangyuan.organization == first_branch
    # The members seed gives 3 verified records and 1 pending; later apps' seeds (activities, wishes) may add more.
    statuses = list(dangyuan.service_records.values_list("status", flat=True))
    assert statuses.count("verified") >= 3
    assert statuses.count("pending") >= 1

    client.login(username="shequ", password=DEMO_PASSWORD)
    html = client.get(ROSTER, {"all": ""}).content.decode()
    assert dangyuan.volunteer_number in html
    changqing = Member.objects.filter(organization__name="长青社区第一党支部").first()
    assert changqing.volunteer_number not in html
    elsewhere = Member.objects.filter(organization__name="幸福里社区第二党支部").first()
    assert client.get(reverse("admin:members_member_change", args=[elsewhere.pk])).status_code == 200

    client.login(username="zhibu", password=DEMO_PASSWORD)
    assert client.get(reverse("admin:members_member_change", args=[elsewhere.pk])).status_code == 404
    assert client.get(reverse("admin:members_member_change", args=[dangyuan.pk])).status_code == 200

    client.login(username="dangyuan", password=DEMO_PASSWORD)
    assert client.get(ROSTER).status_code == 302  # a member is not staff: the admin sends them to sign in
    page = client.get(reverse("members:me_records"))
    assert page.status_code == 200
    assert dangyuan.service_records.first().content in page.content.decode()
