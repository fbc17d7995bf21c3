"""`seed_demo --scale`: the bulk district, seeded a thousand times smaller ("tiny"), is consistent — its counts are
the ones asked for, every constraint held (they are all on while it writes), and what the constraints cannot say
holds too: ledgers add up, records match attendance, timelines follow the states. A second run refuses."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.db.models import Count, Sum

from demands.models import MicroWish
from incentives.models import LedgerEntry, PointsBalance
from members.models import Grid, Member, Organization, ServiceRecord
from projects.models import Activity, ServiceProject, SignUp
from volunteer_platform import reconcile, scale

pytestmark = [pytest.mark.django_db, pytest.mark.postgres]

TINY = scale.SCALES["tiny"]


@pytest.fixture
def district():
    if connection.vendor != "postgresql":
        pytest.skip("the scale seed is PostgreSQL SQL")
    out = StringIO()
    counts = scale.seed(scale=TINY, password="demo12345", stdout=out)
    root = Organization.objects.get(parent=None, name=scale.DISTRICT)
    return root, counts, out.getvalue()


def in_district(root):
    return Member.objects.filter(organization__path__startswith=root.path)


def test_the_counts_asked_for_and_a_time_for_each_part(district):
    root, counts, printed = district
    tree = Organization.objects.filter(path__startswith=root.path)
    assert tree.filter(type="branch").count() == 8
    assert tree.count() == 1 + 2 + 4 + 8
    assert in_district(root).count() == TINY.members
    assert ServiceRecord.objects.filter(member__organization__path__startswith=root.path).count() == TINY.records
    assert MicroWish.objects.filter(community__organization__path__startswith=root.path).count() == TINY.wishes
    projects = ServiceProject.objects.filter(organization__path__startswith=root.path)
    assert projects.count() == TINY.projects
    assert Activity.objects.filter(project__in=projects).count() == TINY.projects * TINY.activities_per_project
    # One award per counted record: every verified record earns by the rule table.
    counted = ServiceRecord.objects.filter(
        member__organization__path__startswith=root.path, status__in=ServiceRecord.COUNTED_STATUSES
    )
    assert LedgerEntry.objects.filter(member__organization__path__startswith=root.path).count() == counted.count()
    for label in ("organisations", "members", "projects, activities", "wishes", "ledger", "total"):
        assert label in printed
    # Every organization has a secretary from its subtree, who may enter the admin; every grid a leader.
    for organization in tree.select_related("secretary__organization", "secretary__user"):
        assert organization.secretary.organization.path.startswith(organization.path)
        assert organization.secretary.user.is_staff
    assert not Grid.objects.filter(community__organization__path__startswith=root.path, leader=None).exists()


def test_wishes_of_every_state_with_their_timeline(district):
    root, _counts, _printed = district
    wishes = MicroWish.objects.filter(community__organization__path__startswith=root.path)
    assert set(wishes.values_list("state", flat=True)) == set(MicroWish.State.values)
    for wish in wishes.prefetch_related("events"):
        steps = [e.to_state for e in wish.events.all()]
        assert steps[0] == "submitted" and steps[-1] == wish.state
        times = [e.created_at for e in wish.events.all()]
        assert times == sorted(times)
        if wish.state in MicroWish.HELD_STATES:
            assert wish.claimed_by.organization.path.startswith(wish.community.organization.path)
    held = wishes.filter(state__in=["claimed", "fulfilled"]).values("claimed_by").annotate(n=Count("pk"))
    assert max((row["n"] for row in held), default=0) <= 5


def test_sign_ups_records_and_ledger_agree(district):
    root, _counts, _printed = district
    signups = SignUp.objects.filter(activity__project__organization__path__startswith=root.path)
    # Never more seats taken than the activity has; the waiting list only where it is full.
    for activity_id, capacity in Activity.objects.filter(project__organization__path__startswith=root.path).values_list(
        "pk", "capacity"
    ):
        statuses = list(signups.filter(activity_id=activity_id).values_list("status", flat=True))
        taken = sum(s in SignUp.SEAT_STATUSES for s in statuses)
        assert taken <= capacity
        assert "waitlisted" not in statuses or taken == capacity
    # One verified activity record per attended sign-up, with the sign-up's hours.
    attended = signups.filter(status="attended")
    records = ServiceRecord.objects.filter(source="activity", member__organization__path__startswith=root.path)
    assert records.count() == attended.count()
    assert set(records.values_list("status", flat=True)) == {"verified"}
    assert records.aggregate(h=Sum("hours"))["h"] == attended.aggregate(h=Sum("hours"))["h"]
    # Each balance is its ledger's sum, and every entry's balance_after the running sum in statement order.
    entries = LedgerEntry.objects.filter(member__organization__path__startswith=root.path)
    sums = {row["member"]: row["s"] for row in entries.values("member").annotate(s=Sum("points"))}
    balances = dict(PointsBalance.objects.filter(member__in=sums).values_list("member", "balance"))
    assert balances == sums
    for member_id in list(sums)[:20]:
        running = 0
        for entry in entries.filter(member_id=member_id).order_by("created_at", "pk"):
            running += entry.points
            assert entry.balance_after == running


def test_a_second_run_refuses_and_adds_nothing(district):
    root, _counts, _printed = district
    members = Member.objects.count()
    with pytest.raises(scale.AlreadySeeded):
        scale.seed(scale=TINY, password="demo12345")
    with pytest.raises(CommandError, match="already exists"):
        call_command("seed_demo", scale="tiny", stdout=StringIO())
    assert Member.objects.count() == members


def test_reconcile_finds_the_district_in_agreement(district):
    """The district is what the services would have written: `manage.py reconcile` reports nothing."""
    root, _counts, _printed = district
    report = reconcile.run(organization=root)
    assert report.members == TINY.members
    assert [d.line() for d in report.disagreements] == []
