"""Browser journey: a member asks on their phone for a correction of a record; the recording branch's
secretary approves it in the admin; the member's hours, points, stars (a rating in 公示 follows the records) and
certificate all show the corrected figure."""

import io
import re
from datetime import date, timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect
from pypdf import PdfReader

from incentives import services as incentive_services
from tests.conftest import login_in_browser
from tests.factories import DEFAULT_PASSWORD
from tests.incentives.conftest import add_hours

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_member_asks_secretary_approves_and_hours_points_stars_certificate_follow(
    page, phone_page, org_tree, member_a, secretary_a
):
    today = timezone.localdate()
    record = add_hours(member_a, 2, day=today - timedelta(days=5), verifier=secretary_a)  # 08:00–10:00
    incentive_services.star_scheme_save(
        organization=org_tree.street, basis="hours", thresholds=[1, 3, 5, 7, 9], publicity_days=5
    )
    run = incentive_services.rating_run_create(
        organization=org_tree.branch_a, period_start=date(today.year, 1, 1), period_end=today, actor=secretary_a
    )
    incentive_services.rating_run_compute(run=run)
    incentive_services.rating_run_publish(run=run, actor=secretary_a)

    # The member, on a phone: 2 hours, 20 points, ★1 in 公示; asks for 4 hours (08:00–12:00).
    login_in_browser(phone_page, "member_a", DEFAULT_PASSWORD)
    phone_page.goto("/me/records/")
    expect(phone_page.locator("#total-hours")).to_have_text("2")
    phone_page.locator(f"#record-{record.pk} a.record-correct").click()
    start = timezone.localtime(record.started_at)
    phone_page.fill("#id_new_hours", "4")
    phone_page.fill("#id_new_started_at", start.strftime("%Y-%m-%dT%H:%M"))
    phone_page.fill("#id_new_ended_at", (start + timedelta(hours=4)).strftime("%Y-%m-%dT%H:%M"))
    phone_page.fill("#id_reason", "实际服务到 12:00，共 4 小时")
    phone_page.locator("#correction-form button[type=submit]").click()
    expect(phone_page.get_by_role("alert")).to_contain_text("更正申请已提交")
    expect(phone_page.locator(f"#record-{record.pk}")).to_contain_text("更正申请审核中")

    # The branch's secretary approves it in the admin's queue.
    page.goto("/admin/")
    page.fill("#id_username", "secretary_a")
    page.fill("#id_password", DEFAULT_PASSWORD)
    page.locator("#login-form [type=submit]").click()
    page.goto("/admin/members/servicerecordcorrection/")
    page.locator("#result_list tbody tr").first.locator("input.action-select").check()
    page.select_option("select[name=action]", "approve_selected")
    page.locator("button[name=index]").click()
    expect(page.locator(".messagelist")).to_contain_text("已批准 1 条更正申请")

    # The member: the message, then every figure at 4 hours.
    phone_page.goto("/me/inbox/")
    expect(phone_page.locator("body")).to_contain_text("服务记录更正申请已批准")
    phone_page.goto("/me/records/")
    expect(phone_page.locator("#total-hours")).to_have_text("4")
    expect(phone_page.locator(f"#record-{record.pk}")).to_contain_text("上次更正申请：已批准")
    phone_page.goto("/me/")
    expect(phone_page.locator("#total-hours")).to_contain_text("4")
    expect(phone_page.locator("#stars-publicity")).to_contain_text("2 星")  # 4 h on 1/3/5/7/9: ★2, in 公示
    phone_page.goto("/me/points/")
    expect(phone_page.locator("#points-balance")).to_have_text("40")
    expect(phone_page.locator("#publicity-stars")).to_contain_text("2 星")
    expect(phone_page.locator("#ratings .rating-value").first).to_have_text("4 小时")
    pdf = phone_page.request.get("/me/certificate.pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.body())).pages)
    assert re.search(r"4(\.00)?\s*小时", text), text
