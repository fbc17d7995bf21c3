"""incentives.demo.seed: rules, a catalogue, ledger history and a finished rating period — idempotent, with or
without members."""

from datetime import date

import pytest
from django.utils import timezone

from incentives import demo, selectors
from incentives.models import CatalogueItem, LedgerEntry, RatingRun, Redemption, Rule, StarRating
from tests.incentives.conftest import add_hours

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    models = (Rule, CatalogueItem, LedgerEntry, Redemption, RatingRun, StarRating)
    return {model.__name__: model.objects.count() for model in models}


def test_seed_without_members_adds_rules_and_the_catalogue():
    demo.seed()
    assert set(CatalogueItem.objects.values_list("name", flat=True)) == {"理发", "家电维修", "体检", "图书"}
    assert all(item.stock > 0 for item in CatalogueItem.objects.all())
    assert Rule.objects.count() == len(Rule.Code.values)
    assert not LedgerEntry.objects.exists() and not RatingRun.objects.exists()
    demo.seed()
    assert CatalogueItem.objects.count() == 4


def test_seed_with_members_adds_history_and_a_final_rating_period(org_tree, member_a, member_b, platform_admin):
    last_year = timezone.localdate().year - 1
    add_hours(member_b, 100, day=date(last_year, 5, 1), verifier=platform_admin)
    add_hours(member_b, 2, day=date(last_year, 6, 1), verifier=platform_admin)

    demo.seed()
    first = counts()
    demo.seed()

    assert counts() == first
    assert LedgerEntry.objects.filter(member=member_a).exists()
    # From the verified records: 10 points an hour, at most 100 per record (the rule's cap per source).
    assert sorted(LedgerEntry.objects.filter(member=member_b).values_list("points", flat=True)) == [20, 100]
    run = RatingRun.objects.get(organization=org_tree.street)
    assert (run.status, run.period_start, run.period_end) == ("final", date(last_year, 1, 1), date(last_year, 12, 31))
    assert selectors.current_stars(member_b) == 1
    assert Redemption.objects.count() == 1
