"""One truth about a member's stars and the hours they were rated on.

- The current stars are the last *final* rating's, on /me/, /me/points/ and the certificate alike; a rating in its
  公示 is shown as 公示中 with its dates, never as the current stars (not a ★5 next to the final ★ while /me/
  says 3 星).
- The hours of a rating are the hours /me/records/ shows up to the end of its period, and a rating not yet final
  follows every record (not 7.50 h for a period in which the records page lists 13.5 h).
- 公示 is a list every member of the rated organization (and its secretaries) can open, with masked names and the
  way to object for the member concerned; anyone else gets 404.
"""

import io
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone
from pypdf import PdfReader

from core import member_cache
from incentives import selectors, services
from incentives.models import RatingRun, StarRating
from tests.incentives.conftest import add_hours
from tests.members.factories import MemberFactory
from tests.queries import assert_constant_queries

pytestmark = pytest.mark.django_db


def today() -> date:
    return timezone.localdate()


def last_year() -> tuple[date, date]:
    return date(today().year - 1, 1, 1), date(today().year - 1, 12, 31)


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def run_for(organization, period, actor, *, final: bool) -> RatingRun:
    run = services.rating_run_create(
        organization=organization, period_start=period[0], period_end=period[1], actor=actor
    )
    services.rating_run_compute(run=run)
    ends = today() - timedelta(days=1) if final else today() + timedelta(days=4)
    run = services.rating_run_publish(run=run, actor=actor, publicity_ends_on=ends)
    return services.rating_run_finalize(run=run, actor=actor) if final else run


@pytest.fixture
def rated(org_tree, member_a, secretary_a):
    """Member A: 3 stars final for last year (on 2/4/6/8/10 h), then more hours: 5 stars in this year's 公示."""
    services.star_scheme_save(
        organization=org_tree.street, basis="hours", thresholds=[2, 4, 6, 8, 10], publicity_days=5
    )
    add_hours(member_a, Decimal("7.5"), day=last_year()[0] + timedelta(days=40), verifier=secretary_a)
    final = run_for(org_tree.branch_a, last_year(), secretary_a, final=True)
    add_hours(member_a, 6, day=today() - timedelta(days=3), verifier=secretary_a)
    publicity = run_for(org_tree.branch_a, (date(today().year, 1, 1), today()), secretary_a, final=False)
    return final, publicity


def test_every_page_and_the_certificate_say_the_final_stars_and_show_the_publicity_apart(client, rated, member_a):
    final, publicity = rated
    assert final.ratings.get(member=member_a).stars == 3 and publicity.ratings.get(member=member_a).stars == 5
    standing = selectors.star_standing(member_a)
    assert (standing.stars, standing.publicity.run_id) == (3, publicity.pk)
    client.force_login(member_a.user)

    me = text(client.get(reverse("members:me")))
    assert re.search(r'id="stars".*?3 星.*?公示中.*?5 星，公示至', me)
    points = text(client.get(reverse("incentives:points")))
    current = re.search(r'id="current-stars">(.*?)</div>', points).group(1)
    assert 'aria-label="3 星"' in current
    assert re.search(r'id="publicity-stars".*?公示中.*?5 星，公示至', points)
    pdf = client.get(reverse("members:me_certificate"))
    certificate = "".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "★★★（3星）" in certificate and "5星" not in certificate


def test_the_hours_of_a_rating_are_the_hours_the_records_page_shows_for_its_period(client, rated, member_a):
    final, _publicity = rated
    client.force_login(member_a.user)
    points = text(client.get(reverse("incentives:points")))
    link = re.search(rf'href="(/me/records/\?to={last_year()[1].isoformat()})">7\.50 小时', points)
    assert link, "the final rating links its hours to the records of its period"

    records = text(client.get(link.group(1)))
    assert re.search(r'id="period-hours-value">7\.50<', records)
    assert f'record-{member_a.service_records.get(hours=6).pk}"' not in records  # after the period: not listed


def test_a_rating_not_yet_final_follows_each_record_and_a_final_one_says_when_records_changed(
    client, rated, member_a, secretary_a
):
    final, publicity = rated
    add_hours(member_a, 1, day=today() - timedelta(days=1), verifier=secretary_a)
    assert publicity.ratings.get(member=member_a).basis_value == Decimal("14.50")  # 7.5 + 6 + 1, at once
    add_hours(member_a, 2, day=last_year()[1], verifier=secretary_a)  # a late record in the finished period
    assert final.ratings.get(member=member_a).basis_value == Decimal("7.50")  # a final rating never changes
    client.force_login(member_a.user)
    points = text(client.get(reverse("incentives:points")))
    assert "定级后记录有变动，现为 9.50" in points


def test_the_publicity_list_is_open_to_the_organizations_members_and_masks_names(
    client, rated, org_tree, member_a, member_b, secretary_a, secretary_b
):
    _final, publicity = rated
    colleague = MemberFactory(name="欧阳明月", organization=org_tree.branch_a)
    url = reverse("incentives:publicity", args=[publicity.pk])

    client.force_login(colleague.user)
    page = text(client.get(url))
    assert "公示中" in page and "李**" in page and "李明" not in page  # member A, masked
    assert 'id="publicity-object"' not in page  # a colleague without a rating here cannot object to it

    client.force_login(member_a.user)
    page = text(client.get(url))
    assert "李明" in page and 'id="publicity-object"' in page
    assert (
        client.get(reverse("incentives:objection", args=[publicity.ratings.get(member=member_a).pk])).status_code == 200
    )

    client.force_login(secretary_a)
    assert client.get(url).status_code == 200
    for outsider in (member_b.user, secretary_b):  # another branch: 404, nothing about it leaks
        client.force_login(outsider)
        assert client.get(url).status_code == 404
    client.force_login(member_a.user)
    assert client.get(reverse("incentives:publicity", args=[999999])).status_code == 404


def test_a_draft_is_shown_to_its_secretaries_only(client, org_tree, member_a, secretary_a):
    run = services.rating_run_create(
        organization=org_tree.branch_a, period_start=last_year()[0], period_end=last_year()[1], actor=secretary_a
    )
    url = reverse("incentives:publicity", args=[run.pk])
    client.force_login(member_a.user)
    assert client.get(url).status_code == 404
    client.force_login(secretary_a)
    assert "草稿" in text(client.get(url))


def test_the_publicity_list_costs_the_same_whatever_its_length(client, org_tree, member_a, secretary_a):
    run = services.rating_run_create(
        organization=org_tree.branch_a, period_start=last_year()[0], period_end=last_year()[1], actor=secretary_a
    )
    services.rating_run_compute(run=run)
    services.rating_run_publish(run=run, actor=secretary_a)
    client.force_login(member_a.user)

    def add_rows(n):
        for _ in range(n):
            other = MemberFactory(organization=org_tree.branch_a)
            StarRating.objects.create(
                run=run, member=other, basis="hours", thresholds=[1], basis_value=1, computed_stars=1, stars=1,
                status=StarRating.Status.PUBLICITY,
            )  # fmt: skip

    assert_constant_queries(client, reverse("incentives:publicity", args=[run.pk]), add_rows, small=3, large=60)


def test_bad_periods_on_the_records_page_are_answered_not_500(client, member_a):
    client.force_login(member_a.user)
    url = reverse("members:me_records")
    for query in ("to=2026-13-01", "from=2026-12-01&to=2026-01-01", "to=" + "9" * 500):
        response = client.get(f"{url}?{query}")
        assert response.status_code == 200, query
    assert client.get(f"{url}?from=\x00").status_code == 400  # a NUL in a query string (core.middleware)
    assert "开始日期不能晚于结束日期" in text(client.get(f"{url}?from=2026-12-01&to=2026-01-01"))
    member_cache.users_changed([member_a.user_id])


def test_hours_per_kind_of_service_add_up_to_the_period(client, rated, member_a, secretary_a):
    from members import selectors as member_selectors
    from members import services as member_services
    from tests.members.factories import ServiceRecordFactory

    record = ServiceRecordFactory(member=member_a, source="self_report", source_ref="self-report:x", hours=Decimal(1))
    member_services.service_record_verify(record=record, verifier=secretary_a)
    by_source = member_selectors.hours_by_source(member_a)
    assert sum(h for _label, h in by_source) == member_selectors.counted_hours(member_a)
    assert dict(by_source) == {"手工录入": Decimal("13.50"), "自主申报": Decimal("1.00")}
    client.force_login(member_a.user)
    assert "手工录入 13.50 小时；自主申报 1 小时" in text(client.get(reverse("members:me_records")))
