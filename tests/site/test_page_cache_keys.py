"""The whole-page caches are keyed by what a page depends on (core/page_params.py): its canonical
address and the query parameters its view declares, canonically. A thousand random query strings leave the
number of cache entries where it was, on every cached page; a parameter the page does read still gets its own
entry, with the right content; the view never sees, so never prints, a parameter it did not declare."""

import random
import re
from datetime import date
from urllib.parse import urlencode

import pytest
from django.core.cache import cache, caches
from django.test import Client

from core import member_cache, page_params, public_cache
from demands import services as demand_services
from tests.dashboard.test_snapshots import big  # noqa: F401
from tests.demands.factories import publish, submit_wish, verify, wish_category
from tests.projects.factories import ActivityFactory, ProjectFactory
from tests.queries import count_queries
from volunteer_platform import services as site_services

pytestmark = pytest.mark.django_db

# Every name a cached view declares: the random names avoid them (values for them are tried on their own below).
DECLARED = {
    "page", "community", "grid", "category", "target_group", "mode", "date_from", "date_to", "matches", "seats",
    "from", "to", "org", "year", "month",
}  # fmt: skip
PIECES = [
    "\x00", "\x01", "\x1b", "\x7f", "\r\n", "\t", "\u202e", "\u200d", "😀", "𠮷", "党员", "Привет", "مرحبا",
    "<script>alert(1)</script>", "'; --", "=cmd|' /C calc'!A0", "%", "&", "=", "+", "#", "?", "utm_source", "a",
    "x" * 2000,
]  # fmt: skip


def _junk(rng: random.Random) -> str:
    """A string of mixed scripts, control characters, markup and sometimes 2,000 characters; never a number."""
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(1, 4))) + "x"


def _random_query(rng: random.Random) -> str:
    pairs = []
    for _ in range(rng.randint(1, 4)):
        name = _junk(rng)[:40]
        if name not in DECLARED:
            pairs.append((name, _junk(rng)))
    query = urlencode(pairs)
    return query if rng.random() < 0.9 else query + "&%zz=%ff&bare&=v"  # broken escapes, a name alone


def _entries() -> int:
    return len(caches["default"]._cache)  # locmem: the test settings' cache


PAGE_KEY = re.compile(r":(public|member)-page:(?!version:|variants:)")


def _pages() -> int:
    """The stored pages alone (not the versions, nor each view's count of pages with parameters)."""
    return sum(1 for key in caches["default"]._cache if PAGE_KEY.search(key))


def _random_queries(client, path: str, seed: int) -> None:
    rng = random.Random(seed)
    joiner = "&" if "?" in path else "?"
    # 200 requests: each would add an entry if unknown parameters made pages of their own.
    for _ in range(200):
        query = _random_query(rng)
        response = client.get(f"{path}{joiner}{query}")
        # A NUL in the query string is a bad request before any view (core/middleware.py, if installed).
        assert response.status_code == 200 or (response.status_code == 400 and "%00" in query), (path, query)


@pytest.fixture
def site(org_tree, secretary_a):
    """A published wish on the wall and a brand project with an activity."""
    wish_category("助老")
    publish(submit_wish(org_tree.community_a), secretary_a)
    project = ProjectFactory(organization=org_tree.branch_a, slug="yinling", title="银龄关爱行动")
    return ActivityFactory(project=project)


PUBLIC = ["/", "/wishes/", "/projects/", "/projects/yinling/", "/activities/{activity}/"]


@pytest.mark.parametrize("path", PUBLIC)
def test_random_query_strings_leave_the_public_cache_as_it_was(site, path):
    path = path.format(activity=site.pk)
    visitor = Client()
    first = visitor.get(path)
    assert first.status_code == 200
    before = _entries()
    _random_queries(visitor, path, seed=len(path))
    assert _entries() == before
    # Every one of them was the cached page (no query), not a page rendered and thrown away.
    assert count_queries(lambda: visitor.get(f"{path}?utm_source=%E2%80%AE{'党' * 300}"))[0] == 0


@pytest.fixture
def frozen_day(monkeypatch):
    """The member pages are kept per day: the day does not change under the test."""
    monkeypatch.setattr(member_cache.timezone, "localdate", lambda: date(2026, 3, 10))


@pytest.mark.parametrize("path", ["/me/", "/me/records/", "/me/points/"])
def test_random_query_strings_leave_a_members_cache_as_it_was(client, member_a, frozen_day, path):
    client.force_login(member_a.user)
    assert client.get(path).status_code == 200
    before = _entries()
    _random_queries(client, path, seed=len(path))
    assert _entries() == before


def test_random_query_strings_leave_the_kept_dashboard_as_it_was(client, big, platform_admin, frozen_day):  # noqa: F811
    site_services.dashboard_snapshots_refresh()
    client.force_login(platform_admin)
    path = f"/dashboard/?org={big.street.pk}"
    assert client.get(path).status_code == 200
    before = _entries()
    _random_queries(client, path, seed=7)
    assert _entries() == before


@pytest.mark.parametrize(
    ("path", "name"),
    [("/wishes/", "community"), ("/wishes/", "page"), ("/projects/", "category"), ("/projects/", "mode")],
)
def test_values_a_page_does_not_know_are_the_page_without_them(site, path, name):
    Client().get(path)
    before = _entries()
    rng = random.Random(3)
    for _ in range(200):
        query = urlencode({name: _junk(rng)})
        assert Client().get(f"{path}?{query}").status_code == 200 or "%00" in query
    assert _entries() == before


# --- What a page does read still makes a page of its own ---------------------------------------------------------


def test_a_later_page_of_projects_is_its_own_entry_with_its_own_content(org_tree):
    for n in range(21):
        ProjectFactory(organization=org_tree.branch_a, slug=f"p{n}", title=f"项目第{n:02d}号")
    first = Client().get("/projects/")
    before = _pages()
    second = Client().get("/projects/?page=2&utm_source=spam")
    assert second.context["page"].number == 2
    assert _pages() == before + 1
    titles = set(re.findall(r"项目第\d\d号", second.content.decode()))
    assert len(titles) == 1 and not titles & set(re.findall(r"项目第\d\d号", first.content.decode()))
    # The same page in another spelling and with other junk: the entry just made, no query.
    for spelling in ("?page=2", "?page=02&ref=x", "?utm=%E2%80%AE&page=+2"):
        hits = []
        assert count_queries(lambda s=spelling, hits=hits: hits.append(Client().get(f"/projects/{s}")))[0] == 0
        assert hits[0].content.decode().count("项目第") == second.content.decode().count("项目第")
    assert _pages() == before + 1


def test_the_walls_community_filter_is_its_own_entry_with_its_own_wishes(org_tree, secretary_a, secretary_b):
    wish_category("助老")
    for community, secretary, title in (
        (org_tree.community_a, secretary_a, "东风村的心愿"),
        (org_tree.community_b, secretary_b, "西岭村的心愿"),
    ):
        verified = verify(submit_wish(community), secretary, public_title=title)
        demand_services.wish_publish(wish=verified, actor=secretary)
    everything = Client().get("/wishes/").content.decode()
    assert "东风村的心愿" in everything and "西岭村的心愿" in everything
    before = _pages()
    east = Client().get(f"/wishes/?community={org_tree.community_a.pk}&fbclid=abc").content.decode()
    west = Client().get(f"/wishes/?community={org_tree.community_b.pk}").content.decode()
    assert "东风村的心愿" in east and "西岭村的心愿" not in east
    assert "西岭村的心愿" in west and "东风村的心愿" not in west
    assert _pages() == before + 2
    hit = []
    assert count_queries(lambda: hit.append(Client().get(f"/wishes/?community={org_tree.community_a.pk}")))[0] == 0
    assert "东风村的心愿" in hit[0].content.decode() and "西岭村的心愿" not in hit[0].content.decode()


def test_a_page_never_prints_a_parameter_it_does_not_read(site):
    """The sign-in link's `next`, the language form and the pagination links carry the request's query: the view
    runs with the declared parameters only, so nothing of the junk reaches the page (or the next visitor)."""
    for path in ("/wishes/", "/projects/", f"/activities/{site.pk}/"):
        page = Client().get(f"{path}?utm_campaign=EVILMARK&page=1").content.decode()
        assert "EVILMARK" not in page, path
        assert 'name="next" value="' in page


def test_a_members_period_of_records_is_its_own_entry_and_a_bad_date_is_answered_not_kept(client, member_a, frozen_day):
    client.force_login(member_a.user)
    client.get("/me/records/")
    before = _pages()
    period = client.get("/me/records/?from=2025-01-01&to=2025-12-31&gclid=1")
    assert period.context["period_start"] == date(2025, 1, 1)
    assert _pages() == before + 1
    assert count_queries(lambda: client.get("/me/records/?to=2025-12-31&from=2025-01-01"))[0] == 1  # the user
    bad = client.get("/me/records/?from=not-a-date")
    assert bad.status_code == 200 and bad.context["period"].errors  # the form says what is wrong …
    assert _pages() == before + 1  # … and the page is not kept


# --- Addresses and bounds ------------------------------------------------------------------------------------------


def test_another_spelling_of_the_path_is_rendered_not_stored(site):
    Client().get(f"/activities/{site.pk}/")
    before = _entries()
    for zeros in range(1, 30):
        response = Client().get(f"/activities/{'0' * zeros}{site.pk}/")
        assert response.status_code == 200 and response.context["activity"] == site
    assert _entries() == before


def test_pages_beyond_the_cached_ones_are_rendered_not_stored(site):
    Client().get("/projects/")
    before = _entries()
    for number in (page_params.MAX_PAGE + 1, 10**6, 0, -3):
        assert Client().get(f"/projects/?page={number}").status_code == 200
    assert _entries() == before


def test_each_host_gets_its_own_page_and_a_host_pattern_none(site, settings):
    """The brand page prints its own absolute address (the QR code's link)."""
    settings.ALLOWED_HOSTS = ["testserver", "localhost", ".example.cn"]
    assert "http://testserver/projects/yinling/" in Client().get("/projects/yinling/").content.decode()
    local = Client(HTTP_HOST="localhost").get("/projects/yinling/").content.decode()
    assert "http://localhost/projects/yinling/" in local and "testserver/projects" not in local
    before = _entries()
    for host in ("a.example.cn", "b.example.cn", "LOCALHOST", "localhost:81"):
        page = Client(HTTP_HOST=host).get("/projects/yinling/").content.decode()
        assert f"http://{host}/projects/yinling/" in page
    assert _entries() == before


def test_a_view_stores_a_bounded_number_of_pages_with_parameters(site, monkeypatch):
    monkeypatch.setattr(public_cache, "PARAM_VARIANTS", 3)
    Client().get("/projects/")  # without parameters: not counted
    before = _entries()
    for number in range(1, 8):  # seven real pages (past the last, Paginator shows the last one)
        assert Client().get(f"/projects/?page={number}").status_code == 200
    assert _entries() == before + 3 + 1  # three pages and their counter
    assert count_queries(lambda: Client().get("/projects/?page=2"))[0] == 0
    assert count_queries(lambda: Client().get("/projects/?page=5"))[0] > 0


def test_the_parsers():
    pages = [page_params.page_number(v) for v in ("2", " 3 ", "+4", "abc", "", "\x00")]
    assert pages == ["2", "3", "4", None, None, None]
    for beyond in ("0", "-1", str(page_params.MAX_PAGE + 1)):
        with pytest.raises(page_params.NotCacheable):
            page_params.page_number(beyond)
    assert [page_params.an_id(v) for v in ("12", "0012", "0", "", "１２", "1" * 19, "1.0")] == ["12", "12"] + [None] * 5
    assert page_params.choice(["a", "b"])("b") == "b" and page_params.choice(["a", "b"])("c") is None
    assert [page_params.flag(v) for v in ("on", "1", "", "0", "False")] == ["on", "on", None, None, None]
    assert [page_params.iso_date(v) for v in ("2026-03-10", "20260310", "", "2026-13-01")] == [
        "2026-03-10",
        "2026-03-10",
        "",
        None,
    ]
    assert page_params.strict(page_params.an_id)("7") == "7"
    with pytest.raises(page_params.NotCacheable):
        page_params.strict(page_params.an_id)("x")
    with pytest.raises(TypeError):
        page_params.check({"page": "not a parser"})


# --- The same with Redis, as in production -------------------------------------------------------------------------


@pytest.fixture
def redis_cache(settings):
    settings.CACHES = {
        "default": {"BACKEND": "volunteer_platform.redis_cache.RedisCache", "LOCATION": settings.REDIS_URL}
    }
    cache.clear()
    yield caches["default"]
    cache.clear()


@pytest.mark.redis
def test_random_query_strings_leave_the_number_of_redis_keys_as_it_was(redis_cache, site, client, member_a, frozen_day):
    client.force_login(member_a.user)
    paths = [("/projects/", Client()), ("/wishes/", Client()), ("/me/records/", client)]
    for path, visitor in paths:
        assert visitor.get(path).status_code == 200
    redis = redis_cache._cache.get_client()
    before = redis.dbsize()
    for seed, (path, visitor) in enumerate(paths):
        _random_queries(visitor, path, seed=seed)
    assert redis.dbsize() == before
    assert Client().get("/projects/?page=1&category=999").status_code == 200  # a value it reads: one more key
    assert redis.dbsize() == before + 2  # the page and its view's counter of pages with parameters
