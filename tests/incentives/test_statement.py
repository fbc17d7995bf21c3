"""The points history as a person reads it: each line says what happened and to what (incentives.selectors.
entry_text, the one place that writes it), not the rule's name with its unit in brackets."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from incentives import selectors, services
from members import services as member_services
from tests.demands.factories import wish_in_state
from tests.incentives.conftest import fund, make_item
from tests.members.factories import ServiceRecordFactory

pytestmark = pytest.mark.django_db


def lines(member) -> list[str]:
    return [selectors.entry_text(e) for e in selectors.entries_for(member).order_by("pk")]


def test_a_rated_wish_reads_as_what_the_resident_said_about_which_wish(org_tree, secretary_a, member_a):
    wish = wish_in_state("closed", org_tree.community_a, secretary_a, member_a)  # rated 5 stars

    # The wish's service record earns its hours too (志愿服务 1.5 小时：…); then the wish and the rating.
    assert lines(member_a)[-2:] == ["实现微心愿《修理水龙头》", "居民评价 5 星：心愿《修理水龙头》"]
    assert wish.public_title == "修理水龙头"


def test_service_hours_name_the_hours_and_the_service_and_a_void_says_it_was_taken_back(member_a, secretary_a):
    start = timezone.now() - timedelta(days=2)
    record = ServiceRecordFactory(
        member=member_a, start=start, end=start + timedelta(hours=3), hours=Decimal("2.50"), content="陪老人读报"
    )
    record = member_services.service_record_verify(record=record, verifier=secretary_a)
    member_services.service_record_void(record=record, actor=secretary_a, reason="重复登记")

    assert lines(member_a) == ["志愿服务 2.5 小时：陪老人读报", "冲正：志愿服务 2.5 小时：陪老人读报（重复登记）"]


def test_a_redemption_and_its_refund(member_a):
    fund(member_a, 100)
    redemption = services.redemption_request(member=member_a, item=make_item(name="理发", points_cost=40))
    services.redemption_cancel(redemption=redemption, actor=member_a.user, by_member=True)

    assert lines(member_a)[1:] == ["兑换“理发”", "退还积分：取消兑换“理发”"]


def test_a_rating_written_before_titles_were_kept_says_only_the_stars(member_a):
    services.award(member=member_a, rule="resident_rating", quantity=5, idempotency_key="old:1", note="居民评价5星")
    assert lines(member_a) == ["居民评价 5 星"]


def test_the_points_page_shows_the_lines_without_the_rules_wording(client, org_tree, secretary_a, member_a):
    wish_in_state("closed", org_tree.community_a, secretary_a, member_a)
    client.force_login(member_a.user)

    page = client.get(reverse("incentives:points")).content.decode()

    assert "居民评价 5 星：心愿《修理水龙头》" in page and "实现微心愿《修理水龙头》" in page
    assert "（每星）" not in page and "居民评价5星" not in page


def test_in_english_a_redemption_line_names_the_item_in_english(member_a):
    fund(member_a, 100)
    services.redemption_request(member=member_a, item=make_item(name="理发", name_en="Haircut", points_cost=40))

    with translation.override("en"):
        line = lines(member_a)[-1]

    assert "Haircut" in line and "理发" not in line
