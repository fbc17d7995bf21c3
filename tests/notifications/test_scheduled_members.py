"""Members' scheduled messages: the monthly digest to secretaries (figures checked against a hand-computed month)
and the quarterly 双报到 service card to in-service members' home branches."""

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from members import selectors, services, tasks
from members.models import Organization
from notifications.models import Notification
from notifications.rendering import render_message
from tests.factories import UserFactory
from tests.members.factories import CommunityFactory, MemberFactory, OrganizationFactory
from tests.personas import make_secretary
from volunteer_platform import tasks as site_tasks

DIGEST = "members_monthly_digest"
CARD = "members_service_card"


def at(clock, month, day, hour=9, year=2026):
    clock.now = datetime(year, month, day, hour, 0, tzinfo=timezone.get_current_timezone())


def record(clock, member, *, served, hours, created, status="verified", recorded_by=None):
    """A service on `served` (month, day) entered on `created` (month, day), then verified or voided as asked."""
    at(clock, *created)
    start = datetime(2026, *served, 9, 0, tzinfo=timezone.get_current_timezone())
    made = services.service_record_create(
        member=member,
        start=start,
        end=start + timedelta(hours=4),
        place="社区活动中心",
        content="入户探望空巢老人",
        hours=Decimal(hours),
        source="manual",
        recording_organization=recorded_by or member.organization,
        organizer="王书记",
        recorder=None,
    )
    clerk = UserFactory(username="clerk", is_staff=True)  # the branch's recorder, the same account every time
    if status == "verified":
        services.service_record_verify(record=made, verifier=clerk)
    elif status == "void":
        services.service_record_void(record=made, actor=clerk, reason="重复录入")
    return made


# --- Monthly digest ---------------------------------------------------------------------------------------------


@pytest.fixture
def october(org_tree, clock):
    """October 2026, by hand. Branch A: secretary 王书记 and 李明 (member_a) since September; 新一 and 新二 joined
    on 10 Oct (新二 has left since). Branch B: 周红 (member_b) since September, 新三 joined 10 Oct. The street has an
    admin; branch B has no manager.

    Records (A = branch A's members, recorded by branch A):
      r1 李明 served 5 Oct 2 h, entered 6 Oct, verified          → A service, A new record
      r2 新一 served 20 Oct 1.5 h, entered 21 Oct, verified      → A service, A new record
      r3 李明 served 25 Oct 3 h, entered 26 Oct, pending         → A new record, A pending
      r4 李明 served 28 Sep 2 h, entered 2 Oct, verified         → A new record only (served in September)
      r5 李明 served 30 Oct 1 h, entered 30 Oct, voided          → nothing
      r6 周红 served 12 Oct 4 h, entered 13 Oct, verified        → street only
      r7 李明 served 1 Nov 2 h, entered 1 Nov, verified          → nothing (November)
    双报到 at 东风村 (served by branch A): 周红 confirmed 15 Oct; 新三 registered 20 Oct, still pending.
    """
    at(clock, 9, 1)
    secretary = make_secretary(org_tree.branch_a, "secretary_a", "王书记")
    street_admin = UserFactory(username="street_admin", is_staff=True)
    services.organization_set_admins(organization=org_tree.street, users=[street_admin], actor=None)
    old_a = MemberFactory(name="李明", organization=org_tree.branch_a)
    member_b = MemberFactory(name="周红", organization=org_tree.branch_b)
    at(clock, 10, 10)
    new_1 = MemberFactory(name="新一", organization=org_tree.branch_a)
    new_2 = MemberFactory(name="新二", organization=org_tree.branch_a)
    new_3 = MemberFactory(name="新三", organization=org_tree.branch_b)
    services.member_deactivate(member=new_2, actor=None, reason="调离")

    record(clock, old_a, served=(10, 5), hours="2", created=(10, 6))
    record(clock, new_1, served=(10, 20), hours="1.5", created=(10, 21))
    record(clock, old_a, served=(10, 25), hours="3", created=(10, 26), status="pending")
    record(clock, old_a, served=(9, 28), hours="2", created=(10, 2))
    record(clock, old_a, served=(10, 30), hours="1", created=(10, 30, 15), status="void")
    record(clock, member_b, served=(10, 12), hours="4", created=(10, 13))
    record(clock, old_a, served=(11, 1), hours="2", created=(11, 1, 7))

    at(clock, 10, 14)
    registration = services.residence_register(member=member_b, community=org_tree.community_a, actor=None)
    at(clock, 10, 15)
    services.residence_confirm(registration=registration, actor=secretary)
    at(clock, 10, 20)
    services.residence_register(member=new_3, community=org_tree.community_a, actor=None)

    at(clock, 11, 1, hour=8)  # the digest runs on 1 November at 08:30
    clock.now += timedelta(minutes=30)
    return {"secretary": secretary, "street_admin": street_admin}


def test_the_figures_of_a_month_match_the_hand_count(october, org_tree):
    branch_a = selectors.monthly_figures(org_tree.branch_a, 2026, 10)
    street = selectors.monthly_figures(org_tree.street, 2026, 10)
    west = selectors.monthly_figures(org_tree.west, 2026, 10)

    def figures(f):
        return (
            f.members_active,
            f.members_new,
            f.services,
            f.hours,
            f.volunteers,
            f.records_new,
            f.records_pending,
            f.residences_confirmed,
            f.residences_pending,
        )

    assert figures(branch_a) == (3, 2, 2, Decimal("3.5"), 2, 4, 1, 1, 1)
    assert figures(street) == (5, 3, 3, Decimal("7.5"), 3, 5, 1, 1, 1)
    assert figures(west) == (2, 1, 1, Decimal("4"), 1, 1, 0, 0, 0)


def test_the_digest_goes_to_each_managed_organization_once(october, org_tree):
    site_tasks.plan_monthly_digest.delay()
    site_tasks.plan_monthly_digest.delay()  # beat fired twice: nothing new

    digests = Notification.objects.filter(template=DIGEST)
    # Branch A's secretary and the street's admin; branch B and the committees have no manager.
    assert set(digests.values_list("recipient_user", "channel")) == {
        (october["secretary"].pk, "inapp"),
        (october["secretary"].pk, "email"),
        (october["street_admin"].pk, "inapp"),
        (october["street_admin"].pk, "email"),
    }
    to_branch = digests.get(recipient_user=october["secretary"], channel="inapp")
    assert to_branch.kind == "digest"
    assert to_branch.context == {
        "organization": "东一支部",
        "year": 2026,
        "month": 10,
        "members_active": 3,
        "members_new": 2,
        "services": 2,
        "hours": "3.5",
        "volunteers": 2,
        "records_new": 4,
        "records_pending": 1,
        "residences_confirmed": 1,
        "residences_pending": 1,
        # The site's part (tests/dashboard/test_feedback.py counts these by hand): nothing of it this month.
        "wishes_received": 0,
        "wishes_fulfilled": 0,
        "wishes_fulfilled_by_members": 0,
        "rating_count": 0,
        "rating_mean": "",
        "survey_count": 0,
        "survey_mean": "",
        "overdue_count": 0,
        "overdue_tasks": [],
    }
    message = render_message(to_branch)
    assert message.subject == "东一支部 2026年10月工作简报"
    assert "本月志愿服务（已确认）：2 次，3.5 小时，2 名党员参加" in message.body
    assert "1 条服务记录待确认时长，1 条双报到待确认" in message.body
    street = digests.get(recipient_user=october["street_admin"], channel="inapp")
    assert (street.context["organization"], street.context["hours"]) == ("幸福街道党工委", "7.5")


def test_the_digest_of_january_reports_december(org_tree, secretary_a, clock):
    at(clock, 1, 1, year=2027)
    site_tasks.plan_monthly_digest.delay()

    digest = Notification.objects.get(template=DIGEST, channel="inapp")
    assert (digest.context["year"], digest.context["month"]) == (2026, 12)
    assert digest.dedupe_key.startswith("members:digest:2026-12:")


def test_a_secretary_whose_account_is_disabled_gets_no_digest(org_tree, secretary_a, clock):
    secretary_a.is_active = False
    secretary_a.save(update_fields=["is_active"])
    site_tasks.plan_monthly_digest.delay()
    assert not Notification.objects.filter(template=DIGEST).exists()


def test_the_digest_follows_the_secretarys_preferences(org_tree, secretary_a, clock):
    from notifications.services import preferences_save

    preferences_save(user=secretary_a, choices={"digest": []})
    site_tasks.plan_monthly_digest.delay()
    assert list(Notification.objects.filter(template=DIGEST).values_list("channel", flat=True)) == ["inapp"]


# --- Quarterly 双报到 service card -------------------------------------------------------------------------------


@pytest.fixture
def quarter(org_tree, clock):
    """Q3 2026 (July–September). A workplace branch (机关支部, under the street) has four in-service members living
    in 东风村 (served by branch A) or 西岭村 (branch B). Branch A's own member 李明 is registered at 东风村 too: that is
    home ground, not 双报到 of an in-service member."""
    at(clock, 6, 1)
    workplace = OrganizationFactory(name="区机关第一支部", type=Organization.Type.BRANCH, parent=org_tree.street)
    secretary = make_secretary(workplace, "workplace_secretary", "钱书记")
    grid_org = OrganizationFactory(name="东风村第一党小组", type=Organization.Type.GROUP, parent=org_tree.branch_a)
    other_community = CommunityFactory(name="南湖社区", organization=OrganizationFactory(name="南湖支部"))
    people = {
        name: MemberFactory(name=name, organization=workplace) for name in ("赵一", "钱二", "孙三", "李四", "周五")
    }
    local = MemberFactory(name="李明", organization=org_tree.branch_a)

    def registered(member, community, confirmed_on, ended_on=None):
        at(clock, *confirmed_on)
        registration = services.residence_register(member=member, community=community, actor=None)
        services.residence_confirm(registration=registration, actor=None)
        if ended_on:
            at(clock, *ended_on)
            services.residence_end(registration=registration, actor=None)
        return registration

    registered(people["赵一"], org_tree.community_a, (6, 2))  # all quarter
    registered(people["钱二"], org_tree.community_b, (8, 10))  # confirmed during the quarter
    registered(people["孙三"], org_tree.community_a, (3, 1), ended_on=(6, 20))  # ended before the quarter
    registered(people["李四"], org_tree.community_a, (10, 2))  # confirmed after the quarter
    at(clock, 6, 3)
    services.residence_register(member=people["周五"], community=other_community, actor=None)  # never confirmed
    registered(local, org_tree.community_a, (6, 4))

    # 赵一: two services for 东风村 (one recorded by its grid's group, inside branch A's subtree), one at his
    # workplace, one in October.
    record(clock, people["赵一"], served=(7, 3), hours="2", created=(7, 3, 15), recorded_by=org_tree.branch_a)
    record(clock, people["赵一"], served=(9, 30), hours="1.5", created=(9, 30, 15), recorded_by=grid_org)
    record(clock, people["赵一"], served=(8, 1), hours="3", created=(8, 1, 15))
    record(clock, people["赵一"], served=(10, 1), hours="2", created=(10, 1, 15), recorded_by=org_tree.branch_a)
    pending = {"status": "pending", "recorded_by": org_tree.branch_a}  # not verified: does not count
    record(clock, people["赵一"], served=(8, 8), hours="1", created=(8, 8, 15), **pending)
    # 孙三 served 东风村 in July, but his registration had ended: no card.
    record(clock, people["孙三"], served=(7, 5), hours="2", created=(7, 5, 15), recorded_by=org_tree.branch_a)
    at(clock, 10, 1)
    return {"workplace": workplace, "secretary": secretary, "people": people}


def test_service_cards_list_each_in_service_members_service_in_their_residence_community(quarter):
    cards = selectors.service_cards(quarter["workplace"], *selectors.quarter_bounds(2026, 3))

    assert [(c.member.name, c.community.name, c.services, c.hours) for c in cards] == [
        ("赵一", "东风村", 2, Decimal("3.5")),
        ("钱二", "西岭村", 0, Decimal("0")),  # the branch must hear about a member who did not serve too
    ]


def test_the_card_goes_to_the_home_branch_once_a_quarter(quarter, org_tree, clock):
    tasks.plan_service_cards.delay()
    tasks.plan_service_cards.delay()

    cards = Notification.objects.filter(template=CARD)
    # Only the workplace branch has cards (branch A's 李明 is home ground); it has one manager.
    assert set(cards.values_list("recipient_user", "channel")) == {
        (quarter["secretary"].pk, "inapp"),
        (quarter["secretary"].pk, "email"),
    }
    card = cards.get(channel="inapp")
    assert (card.context["year"], card.context["quarter"], card.kind) == (2026, 3, "digest")
    assert [(c["name"], c["community"], c["services"], c["hours"]) for c in card.context["cards"]] == [
        ("赵一", "东风村", 2, "3.5"),
        ("钱二", "西岭村", 0, "0"),
    ]
    message = render_message(card)
    assert message.subject == "2026年第3季度双报到服务情况反馈（区机关第一支部）"
    assert "赵一（" in message.body and "本季度服务 2 次，共 3.5 小时" in message.body


def test_quarter_edges(clock):
    assert selectors.quarter_bounds(2026, 1) == (datetime(2026, 1, 1).date(), datetime(2026, 4, 1).date())
    assert selectors.quarter_bounds(2026, 4) == (datetime(2026, 10, 1).date(), datetime(2027, 1, 1).date())
    assert selectors.month_bounds(2026, 12) == (datetime(2026, 12, 1).date(), datetime(2027, 1, 1).date())
    assert services._previous_quarter(datetime(2027, 1, 1).date()) == (2026, 4)
    assert services._previous_quarter(datetime(2026, 7, 1).date()) == (2026, 2)
