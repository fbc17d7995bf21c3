"""The demo a newcomer meets with `make run` (`seed_demo`, 300 members): made once for this module, which every
test reads in a savepoint of its own (tests/personas.py: module_rows), so the suite seeds it once and not in each
app's tests (about 10 s a seeding). A street that looks real; the four demo sign-ins each see their own part; the
showcase member's rating rates the hours the records page shows and `reconcile` finds the whole demo in agreement;
news for the home page, the member and the approval queue; the secretary's overdue task; a second run adds
nothing. Each app's own seed is tested with its own small data beside its app (tests/<app>/test_demo*.py)."""

import re
import tempfile
import time
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.db.models import Count
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from incentives import selectors as incentive_selectors
from incentives.models import StarRating
from members import demo
from members import selectors as member_selectors
from members.identifiers import normalize_mobile
from members.models import Grid, Member, Organization, ResidenceRegistration, ServiceRecord, Team
from news import selectors as news_selectors
from news.models import News
from tests.personas import module_rows
from volunteer_platform import reconcile
from volunteer_platform.demo import DEMO_ACCOUNTS, DEMO_PASSWORD

pytestmark = pytest.mark.django_db

User = get_user_model()
ROSTER = reverse("admin:members_member_changelist")


@pytest.fixture(scope="module")
def demo_street(django_db_setup, django_db_blocker):
    with tempfile.TemporaryDirectory() as media, override_settings(MEDIA_ROOT=media), module_rows(django_db_blocker):
        call_command("seed_demo", verbosity=0)
        yield


def _demo_members():
    return Member.objects.filter(
        organization__path__startswith=Organization.objects.get(name=demo.STREET).path
    ) | Member.objects.filter(organization__name=demo.WORKPLACE[1])


def section(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    return html[start : html.index("</section>", start)]


def _row_counts() -> dict[str, int]:
    quote = connection.ops.quote_name
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(f"SELECT %s, count(*) FROM {quote(t)}" for t in tables), tables)
        return dict(cursor.fetchall())


def test_a_second_run_adds_nothing_and_the_admin_signs_in(demo_street, client):
    first = _row_counts()
    assert first["auth_user"] > 300
    call_command("seed_demo", verbosity=0)
    second = _row_counts()
    assert {t: (n, second[t]) for t, n in first.items() if second[t] != n} == {}
    assert client.login(username="admin", password=DEMO_PASSWORD)


def test_the_street_is_realistic(demo_street):
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


def test_the_demo_sign_ins_work_and_see_their_own_part(demo_street, client):
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


def test_the_demo_rates_the_hours_its_records_show_and_reconciles(demo_street, client):
    """`make run`'s demo: the showcase member's finished rating rates the hours /me/records/ shows up to the end of
    its period, and `manage.py reconcile` finds the whole demo in agreement."""
    member = Member.objects.get(user__username="dangyuan")
    rating = StarRating.objects.select_related("run").get(member=member, status="final")
    hours = member_selectors.counted_hours(member, end=rating.run.period_end)
    assert hours > Decimal("7.5") and rating.basis_value == hours  # 7.50 h was rated before the later records
    assert rating.computed_stars == rating.stars == incentive_selectors.star_standing(member).stars
    report = reconcile.run()
    assert report.members >= 300 and [d.line() for d in report.disagreements] == []
    client.force_login(member.user)
    page = client.get(f"/me/records/?to={rating.run.period_end.isoformat()}").content.decode()
    assert f'id="period-hours-value">{hours}<' in page


def test_the_demo_has_news_for_the_home_page_the_member_and_the_approval_queue(demo_street):

    assert News.objects.filter(status=News.Status.PUBLISHED).count() == 3
    pending = News.objects.get(status=News.Status.PENDING)
    assert pending.author.username == "zhibu"
    assert all(n.approved_by_id != n.author_id for n in News.objects.filter(status=News.Status.PUBLISHED))

    home = news_selectors.latest_public_news()
    assert len(home) == 2 and any(n.photo for n in home)
    member = Member.objects.select_related("organization").get(user__username="dangyuan")
    assert {n.title for n in news_selectors.latest_news_for_member(member)} == {
        *(n.title for n in home),
        "本周六主题党日活动安排",
    }


def test_the_demo_secretary_shequ_opens_and_reports_the_overdue_task(demo_street, client):
    assert client.login(username="shequ", password=DEMO_PASSWORD)
    html = client.get("/dashboard/").content.decode()
    link = re.findall(r'href="([^"]+)"', section(html, "overdue-tasks"))[0]
    assert client.get(link).status_code == 200
    response = client.post(link, {"status": "in_progress", "text": "助老服务队已组建"}, follow=True)
    assert response.status_code == 200 and "助老服务队已组建" in response.content.decode()
    assert "建立社区助老服务队" in section(client.get("/me/").content.decode(), "my-tasks")

    assert client.login(username="dangyuan", password=DEMO_PASSWORD)
    assert "组织法律咨询进社区" in section(client.get("/me/").content.decode(), "my-tasks")


def test_more_members_are_added_in_bulk_and_none_removed(demo_street):
    started = time.perf_counter()
    call_command("seed_demo", "--members", "400", verbosity=0)
    assert _demo_members().count() == 400
    # In bulk: about 5 s here. Seeding the hundred row by row (a save per member, record and wish) takes several
    # times that.
    assert time.perf_counter() - started < 30
    call_command("seed_demo", "--members", "100", verbosity=0)  # never removes
    assert _demo_members().count() == 400
