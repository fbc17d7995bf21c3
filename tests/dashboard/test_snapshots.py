"""Dashboard snapshots: the default dashboard of a large organization is computed by Celery and read from the cache;
smaller organizations, other periods and the exports are computed when asked."""

from datetime import date
from unittest import mock

import pytest
from django.core.cache import cache

from members.models import ServiceRecord
from tests.members.factories import MemberFactory
from volunteer_platform import selectors, services, tasks

from .conftest import record


@pytest.fixture
def big(settings, org_tree):
    """With the threshold at 3 members: the street and the east committee (branch A has 3) are 'large'."""
    settings.DASHBOARD_SNAPSHOT_MIN_MEMBERS = 3
    for name in ("甲", "乙", "丙"):
        MemberFactory(name=f"张{name}", organization=org_tree.branch_a)
    MemberFactory(name="李丁", organization=org_tree.branch_b)
    return org_tree


def test_only_organizations_with_enough_members_get_a_snapshot(big):
    large = selectors.snapshot_organizations(3)
    assert [o.name for o in large] == ["幸福街道党工委", "东社区党委", "东一支部"]
    assert tasks.refresh_dashboard_snapshots.delay().get() == 3
    period = selectors.default_period()
    assert selectors.dashboard_snapshot(big.street, period).computed_at is not None
    assert selectors.dashboard_snapshot(big.west, period) is None  # 1 member: computed when opened
    assert selectors.dashboard_snapshot(big.street, selectors.Period.year(2025)) is None


def test_the_page_reads_the_snapshot_and_says_when_it_was_computed(client, big, platform_admin):
    services.dashboard_snapshots_refresh()
    member = big.branch_a.members.first()
    record(member, date.today(), "3")  # written after the snapshot
    client.force_login(platform_admin)

    response = client.get(f"/dashboard/?org={big.street.pk}")
    page = response.content.decode()
    assert 'id="snapshot-note"' in page
    assert 'id="fig-hours">0.00<' in page  # the snapshot's figure, up to 10 minutes old
    # The follow-up list's first page comes with the snapshot: the member who served since is still on it.
    assert member.name in [m.name for m in response.context["followup"]]
    assert len(response.context["followup"].object_list) == 4

    today = date.today()
    explicit = client.get(f"/dashboard/?org={big.street.pk}&year={today.year}").content.decode()
    assert 'id="snapshot-note"' not in explicit
    assert 'id="fig-hours">3.00<' in explicit  # any other period is computed now
    explicit_response = client.get(f"/dashboard/?org={big.street.pk}&year={today.year}")
    assert member.name not in [m.name for m in explicit_response.context["followup"]]

    small = client.get(f"/dashboard/?org={big.branch_b.pk}").content.decode()
    assert 'id="snapshot-note"' not in small

    services.dashboard_snapshots_refresh()  # the next round catches up
    assert 'id="fig-hours">3.00<' in client.get(f"/dashboard/?org={big.street.pk}").content.decode()
    assert ServiceRecord.objects.count() == 1


def test_a_snapshot_lives_for_two_rounds_so_a_stopped_beat_falls_back_to_live_figures(big, settings):
    settings.DASHBOARD_SNAPSHOT_SECONDS = 600
    with mock.patch.object(cache, "set_many", wraps=cache.set_many) as stored:
        services.dashboard_snapshots_refresh()
    assert {c.kwargs["timeout"] for c in stored.call_args_list} == {1200}
    assert len(stored.call_args_list) == 3  # each snapshot with its stamp, in one write


# --- The snapshot page's rendering (dashboard_views.py: rendered once per snapshot and language) ------------------

CONTENT = "volunteer_platform/dashboard_content.html"


def _rendered(response) -> bool:
    """Whether the request rendered the dashboard's content (else it served a kept rendering)."""
    return CONTENT in [t.name for t in response.templates]


def _content(page: str) -> str:
    """The dashboard's part of a page: from the breadcrumb to the end of the follow-up section."""
    start = page.index('id="dashboard-breadcrumb"')
    return page[start : page.rindex("</section>") + len("</section>")]


@pytest.fixture
def second_admin(db):
    from tests.factories import UserFactory

    return UserFactory(username="admin2", is_staff=True, is_superuser=True)


def test_the_snapshot_page_is_rendered_once_and_then_served_to_every_viewer(client, big, platform_admin, second_admin):
    services.dashboard_snapshots_refresh()
    client.force_login(platform_admin)
    url = f"/dashboard/?org={big.street.pk}"
    first = client.get(url)
    assert _rendered(first)

    client.force_login(second_admin)
    with (
        mock.patch.object(selectors, "dashboard_snapshot", wraps=selectors.dashboard_snapshot) as read,
        mock.patch.object(selectors, "dashboard", wraps=selectors.dashboard) as computed,
    ):
        second = client.get(url)
        again = client.get(f"{url}&page=1")
    assert second.status_code == again.status_code == 200
    assert not _rendered(second) and not _rendered(again)
    assert not read.called and not computed.called  # neither the snapshot unpickled nor the figures computed
    assert _content(second.content.decode()) == _content(first.content.decode())
    assert 'id="snapshot-note"' in second.content.decode()
    # The base layout is still the viewer's own: their name and their CSRF token.
    assert 'id="nav-user">admin2<' in second.content.decode()
    assert str(second.context["csrf_token"]) in second.content.decode()


def test_a_refreshed_snapshot_replaces_the_rendering(client, big, platform_admin, second_admin):
    services.dashboard_snapshots_refresh()
    client.force_login(platform_admin)
    url = f"/dashboard/?org={big.street.pk}"
    assert 'id="fig-hours">0.00<' in client.get(url).content.decode()
    old = selectors.dashboard_snapshot(big.street, selectors.default_period())
    record(big.branch_a.members.first(), date.today(), "3")
    kept = client.get(url)
    assert not _rendered(kept) and 'id="fig-hours">0.00<' in kept.content.decode()  # the snapshot's, as before

    services.dashboard_snapshots_refresh()
    fresh = client.get(url)
    assert _rendered(fresh) and 'id="fig-hours">3.00<' in fresh.content.decode()
    assert not _rendered(client.get(url))

    # A rendering of the old snapshot kept after the refresh (a request that read it just before) is never served.
    selectors.keep_snapshot_rendering(big.street, old, "zh-hans", "<p>STALE</p>")
    client.force_login(second_admin)  # someone without a kept page of their own
    page = client.get(url)
    assert _rendered(page) and "STALE" not in page.content.decode()
    assert 'id="fig-hours">3.00<' in page.content.decode()


def test_the_rendering_is_per_language(client, big, platform_admin, settings):
    services.dashboard_snapshots_refresh()
    client.force_login(platform_admin)
    url = f"/dashboard/?org={big.street.pk}"
    chinese = client.get(url)
    assert _rendered(chinese) and "主要指标" in chinese.content.decode()

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    english = client.get(url)
    assert _rendered(english)  # its own rendering, not the Chinese one
    assert "主要指标" not in english.content.decode() and "Key figures" in english.content.decode()
    assert not _rendered(client.get(url))

    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "zh-hans"
    again = client.get(url)
    assert not _rendered(again) and "主要指标" in again.content.decode()


def test_the_rendering_is_not_used_for_other_periods_pages_or_small_organizations(client, big, platform_admin):
    services.dashboard_snapshots_refresh()
    client.force_login(platform_admin)
    url = f"/dashboard/?org={big.street.pk}"
    client.get(url)  # renders and keeps the snapshot page
    assert not _rendered(client.get(url))
    today = date.today()
    for other in (
        f"{url}&year={today.year}",  # the same dates asked for explicitly: computed now
        f"{url}&year={today.year}&month={today.month}",
        f"{url}&from={today.year - 1}-01-01&to={today.year - 1}-12-31",
        f"{url}&page=2",  # a later page of the follow-up list is queried now
    ):
        first, second = client.get(other), client.get(other)
        assert _rendered(first) and _rendered(second), other
        assert 'id="snapshot-note"' not in first.content.decode() or "page=2" in other

    small = f"/dashboard/?org={big.branch_b.pk}"  # no snapshot: computed and rendered on every request
    with mock.patch.object(selectors, "keep_snapshot_rendering") as kept:
        assert _rendered(client.get(small)) and _rendered(client.get(small))
    assert not kept.called


def test_a_renamed_organization_is_not_shown_under_its_old_name(client, big, platform_admin):
    services.dashboard_snapshots_refresh()
    client.force_login(platform_admin)
    url = f"/dashboard/?org={big.street.pk}"
    client.get(url)
    big.street.name = "幸福街道党委（新）"
    big.street.save()
    page = client.get(url)
    assert _rendered(page) and 'id="dashboard-title">工作台：幸福街道党委（新）<' in page.content.decode()


# --- The whole page kept per person (dashboard_views.py, core/member_cache.py) --------------------------------


def test_a_snapshot_page_is_kept_whole_per_person_and_a_hit_costs_one_query(
    client, big, platform_admin, second_admin, django_assert_num_queries
):
    services.dashboard_snapshots_refresh()
    url = f"/dashboard/?org={big.street.pk}"
    client.force_login(platform_admin)
    first = client.get(url)
    assert _rendered(first) and 'id="nav-user">admin<' in first.content.decode()
    with (
        django_assert_num_queries(1),  # the user; the session is read through the cache, the scope not at all
        mock.patch.object(selectors, "snapshot_rendering") as rendering,
    ):
        hit = client.get(url)
    assert hit.status_code == 200 and not rendering.called
    assert _content(hit.content.decode()) == _content(first.content.decode())
    assert "__PUBLIC_CACHE_CSRF__" not in hit.content.decode()  # the viewer's own token is put back
    assert 'name="csrfmiddlewaretoken" value="' in hit.content.decode()

    client.force_login(second_admin)  # another person: their own page, with their name
    theirs = client.get(url)
    assert 'id="nav-user">admin2<' in theirs.content.decode()
    assert _content(theirs.content.decode()) == _content(first.content.decode())


def test_a_page_rendered_from_a_snapshot_replaced_meanwhile_is_not_served(client, big, platform_admin):
    services.dashboard_snapshots_refresh()
    record(big.branch_a.members.first(), date.today(), "3")
    client.force_login(platform_admin)
    url = f"/dashboard/?org={big.street.pk}"
    read_snapshot = selectors.dashboard_snapshot

    def read_then_refresh(organization, period):
        figures = read_snapshot(organization, period)  # this request renders the old snapshot …
        services.dashboard_snapshots_refresh()  # … while the next round stores a new one
        return figures

    with mock.patch.object(selectors, "dashboard_snapshot", side_effect=read_then_refresh):
        old = client.get(url)
    assert 'id="fig-hours">0.00<' in old.content.decode()
    assert 'id="fig-hours">3.00<' in client.get(url).content.decode()  # the kept old page is not served


def test_a_kept_page_follows_its_viewers_scope(client, big, east_secretary):
    """What the dashboard shows depends on whom the person manages: the organizations they administer or are the
    secretary of, and their own member record. Each change of it drops their kept page."""
    from members.models import Member

    services.dashboard_snapshots_refresh()
    client.force_login(east_secretary)
    assert 'id="dashboard-title">工作台：东社区党委<' in client.get("/dashboard/").content.decode()
    assert not _rendered(client.get("/dashboard/"))  # kept

    member = east_secretary.member
    member.status = Member.Status.TRANSFERRED
    member.save()  # a secretary who left keeps no rights through the title
    assert client.get("/dashboard/").status_code == 404

    big.street.admins.add(east_secretary)  # made an admin of the street: the street is now their top
    assert 'id="dashboard-title">工作台：幸福街道党工委<' in client.get("/dashboard/").content.decode()
    assert not _rendered(client.get("/dashboard/"))
    big.street.admins.remove(east_secretary)
    assert client.get("/dashboard/").status_code == 404

    member.status = Member.Status.ACTIVE
    member.save()
    assert client.get("/dashboard/").status_code == 200
    assert not _rendered(client.get("/dashboard/"))
    big.east.secretary = None  # another secretary named (an organization's change drops every kept page)
    big.east.save()
    assert client.get("/dashboard/").status_code == 404
