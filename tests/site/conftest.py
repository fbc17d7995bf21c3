"""Fixtures of the site-wide browser tests (accessibility, phone layout)."""

from datetime import date, timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest

from incentives import services as incentives_services
from members import services as members_services
from projects import services as projects_services
from tests.demands.factories import feedback_token, wish_category, wish_in_state
from tests.incentives.conftest import fund, make_item
from tests.members.factories import ServiceRecordFactory
from tests.projects.factories import ActivityFactory, ProjectFactory
from tests.training.factories import SessionFactory
from training import services as training_services


@pytest.fixture
def world(clock, org_tree, secretary_a, member_a):
    """Branch A with something on every page: wishes in several states (one claimed by member_a, one waiting for
    review), a project with an activity member_a signed up for, a training session he enrolled in, a catalogue
    item he redeemed, verified service records, points and a star rating in its publicity period."""
    wish_category("助老")
    community = org_tree.community_a
    published = wish_in_state("published", community, secretary_a)
    wish_in_state("published", community, secretary_a, title="想请人陪同去医院复查")
    claimed = wish_in_state("claimed", community, secretary_a, member_a)
    submitted = wish_in_state("submitted", community, secretary_a, title="家里灯泡坏了够不着", phone="13900009876")
    fulfilled = wish_in_state("fulfilled", community, secretary_a, member_a, title="楼道杂物清理")

    project = ProjectFactory(organization=org_tree.branch_a, slug="silver", title="银龄关爱")
    activity = ActivityFactory(project=project)
    projects_services.signup_create(activity=activity, member=member_a)

    session = SessionFactory(organizer=org_tree.branch_a)
    training_services.enrollment_create(session=session, member=member_a)

    for days in (3, 10):
        record = ServiceRecordFactory(
            member=member_a,
            start=clock.now - timedelta(days=days),
            end=clock.now - timedelta(days=days) + timedelta(hours=2),
            hours=Decimal("2.00"),
        )
        members_services.service_record_verify(record=record, verifier=secretary_a)
    fund(member_a, 120)
    item = make_item(name="理发", points_cost=50, stock=3, pickup_place="社区党群服务中心一楼")
    incentives_services.redemption_request(member=member_a, item=item)
    today = clock.now.date()
    run = incentives_services.rating_run_create(
        organization=org_tree.branch_a, period_start=date(today.year, 1, 1), period_end=today, actor=secretary_a
    )
    incentives_services.rating_run_compute(run=run)
    incentives_services.rating_run_publish(run=run, actor=secretary_a)
    return SimpleNamespace(
        published=published,
        claimed=claimed,
        submitted=submitted,
        feedback_token=feedback_token(fulfilled),
        activity=activity,
        session=session,
    )
