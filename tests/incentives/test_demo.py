"""incentives.demo: rules, a catalogue, a showcase member and (seed_ratings, last) a finished rating period —
idempotent, with or without members; every point comes from what earned it."""

from datetime import timedelta

import pytest
from django.utils import timezone

from incentives import demo, selectors, services
from incentives.models import CatalogueItem, Commendation, LedgerEntry, RatingRun, Redemption, Rule, StarRating
from tests.incentives.conftest import add_hours

pytestmark = pytest.mark.django_db


def counts() -> dict[str, int]:
    models = (Rule, CatalogueItem, LedgerEntry, Redemption, Commendation, RatingRun, StarRating)
    return {model.__name__: model.objects.count() for model in models}


def test_seed_without_members_adds_rules_and_the_catalogue():
    demo.seed()
    demo.seed_ratings()
    assert set(CatalogueItem.objects.values_list("name", flat=True)) == {"理发", "家电维修", "体检", "图书"}
    assert all(item.stock > 0 for item in CatalogueItem.objects.all())
    assert Rule.objects.count() == len(Rule.Code.values)
    assert not LedgerEntry.objects.exists() and not RatingRun.objects.exists()
    demo.seed()
    assert CatalogueItem.objects.count() == 4


def test_seed_with_members_adds_history_a_showcase_and_a_final_rating(
    org_tree, member_a, member_b, secretary_a, platform_admin
):
    add_hours(member_b, 100, day=timezone.localdate() - timedelta(days=200), verifier=platform_admin)
    add_hours(member_b, 2, day=timezone.localdate() - timedelta(days=190), verifier=platform_admin)

    demo.seed()
    demo.seed_ratings()
    first = counts()
    demo.seed()
    demo.seed_ratings()

    assert counts() == first
    # Only from the verified records (written when they were verified, not by the demo): 10 points an hour, at
    # most 100 per record (the rule's cap per source).
    assert sorted(LedgerEntry.objects.filter(member=member_b).values_list("points", flat=True)) == [20, 100]
    assert set(LedgerEntry.objects.filter(member=member_b).values_list("source_ref", flat=True)) == {
        f"record:{pk}" for pk in member_b.service_records.values_list("pk", flat=True)
    }
    run = RatingRun.objects.get(organization=org_tree.street)
    assert run.status == "final" and run.period_end < timezone.localdate().replace(day=1)
    assert run.period_start.day == 1 and run.period_end - run.period_start > timedelta(days=150)
    assert selectors.current_stars(member_b) == 5  # 102 h against the demo scheme (2/4/6/8/10 h)
    showcase = member_a  # no "dangyuan" here: the first member, whose branch has a secretary
    assert sorted(Redemption.objects.filter(member=showcase).values_list("item__name", "status")) == [
        ("图书", "approved"),
        ("理发", "requested"),
    ]
    commendation = Commendation.objects.get(member=showcase)
    assert commendation.status == "approved" and commendation.member_consented_at is not None
    assert list(selectors.exemplars()) == [commendation]


def test_a_top_organization_keeps_its_own_scheme(org_tree, member_a):
    services.star_scheme_save(organization=org_tree.street, basis="hours", thresholds=[1, 2, 3, 4, 5], publicity_days=5)
    demo.seed()
    demo.seed_ratings()
    assert RatingRun.objects.get().ratings.get(member=member_a).thresholds == [1, 2, 3, 4, 5]
