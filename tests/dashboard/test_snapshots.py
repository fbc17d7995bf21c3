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
    with mock.patch.object(cache, "set", wraps=cache.set) as stored:
        services.dashboard_snapshots_refresh()
    assert {c.kwargs["timeout"] for c in stored.call_args_list} == {1200}
    assert len(stored.call_args_list) == 3
