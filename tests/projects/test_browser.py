"""Browser journey: a member filters the projects, signs up, checks in with the code; the organizer confirms the
attendance; the member's verified hours and points rise."""

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from projects import services
from projects.models import ProjectCategory
from tests.conftest import login_in_browser
from tests.factories import DEFAULT_PASSWORD
from tests.projects.conftest import started_ago
from tests.projects.factories import ActivityFactory, ProjectFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_filter_sign_up_check_in_and_get_hours_and_points(clock, page, org_tree, member_a, secretary_a):
    elderly = ProjectFactory(organization=org_tree.branch_a, title="银龄关爱", brand_name="银龄关爱", slug="silver")
    ProjectFactory(
        organization=org_tree.branch_a,
        title="网格巡逻",
        brand_name="网格巡逻",
        slug="patrol",
        # get_or_create: an earlier transactional test may have flushed the categories seeded by the migration
        category=ProjectCategory.objects.get_or_create(name="平安巡逻")[0],
    )
    starts_at = (timezone.now() + timedelta(minutes=30)).replace(second=0, microsecond=0)
    activity = services.activity_create(
        project=elderly, starts_at=starts_at, ends_at=starts_at + timedelta(hours=2), capacity=5, title="陪老人读报"
    )

    # The member filters the list down to 助老 and opens the project.
    login_in_browser(page, member_a.user.username, DEFAULT_PASSWORD)
    page.goto("/projects/")
    expect(page.locator("#projects .project-card")).to_have_count(2)
    page.get_by_label("类别").select_option(label="助老")
    page.get_by_role("button", name="筛选").click()
    expect(page.locator("#projects .project-card")).to_have_count(1)
    page.get_by_role("link", name="银龄关爱").click()
    expect(page.locator("#activities")).to_contain_text("陪老人读报")
    expect(page.locator(f"#activity-{activity.pk} .seats-left")).to_have_text("剩余 5 / 5")

    # Signs up, then checks in with the code the organizer announces.
    page.get_by_role("link", name="陪老人读报").click()
    page.get_by_role("button", name="报名", exact=True).click()
    expect(page.get_by_role("alert").first).to_contain_text("报名成功")
    expect(page.locator("#seats-left")).to_contain_text("4 / 5")
    page.get_by_label("签到码").fill(activity.checkin_code)
    page.get_by_role("button", name="签到").click()
    expect(page.get_by_role("alert").first).to_contain_text("签到成功")
    expect(page.locator("#checked-in")).to_be_visible()
    page.get_by_role("button", name="退出登录").click()

    # The activity takes place; the organizer confirms the attendance on the sheet.
    started_ago(clock, activity, timedelta(hours=2, minutes=1))
    login_in_browser(page, "secretary_a", DEFAULT_PASSWORD)
    page.goto(f"/activities/{activity.pk}/")
    page.get_by_role("link", name="出示签到二维码").click()
    expect(page.locator("#checkin-code")).to_be_hidden()
    page.get_by_role("button", name="显示签到码").click()
    expect(page.locator("#checkin-code")).to_have_text(activity.checkin_code)
    page.get_by_role("link", name="考勤与确认时长").click()
    expect(page.get_by_label(f"{member_a.name} 已到")).to_be_checked()
    page.get_by_role("button", name="保存考勤并确认时长").click()
    expect(page.get_by_role("alert").first).to_contain_text("已到 1 人，缺席 0 人")
    page.get_by_role("button", name="退出登录").click()

    # The member's verified hours and points have risen.
    login_in_browser(page, member_a.user.username, DEFAULT_PASSWORD)
    page.goto("/me/records/")
    expect(page.locator("#total-hours")).to_have_text("2")
    page.goto("/me/points/")
    expect(page.locator("#points-balance")).to_have_text("20")
    page.goto("/me/activities/")
    expect(page.locator("#past")).to_contain_text("陪老人读报")


def test_a_started_activity_shows_in_progress_and_no_sign_up_button(clock, page, org_tree, member_a):
    """A started activity's status agrees with its sign-up box: never 报名中 above 该活动现在不能报名."""
    project = ProjectFactory(organization=org_tree.branch_a, title="银龄关爱", brand_name="银龄关爱", slug="silver")
    activity = ActivityFactory(project=project, title="陪老人读报")
    soon = ActivityFactory(project=project, title="陪老人下棋", starts_at=activity.starts_at + timedelta(days=1))
    started_ago(clock, activity, timedelta(minutes=5))

    # An anonymous visitor first (the page may come from the public cache), then the member.
    page.goto(f"/activities/{activity.pk}/")
    expect(page.locator("#activity-phase")).to_have_text("进行中")
    expect(page.get_by_role("link", name="登录后报名")).to_have_count(0)
    login_in_browser(page, member_a.user.username, DEFAULT_PASSWORD)
    page.goto(f"/activities/{activity.pk}/")
    expect(page.locator("#activity-phase")).to_have_text("进行中")
    expect(page.locator("#my-state")).to_contain_text("该活动现在不能报名")
    expect(page.get_by_role("button", name="报名", exact=True)).to_have_count(0)

    # The brand page lists only the one still to come, open for sign-up, and its page has the button.
    page.goto("/projects/silver/")
    expect(page.locator("#activities li")).to_have_count(1)
    expect(page.locator(f"#activity-{soon.pk} .activity-phase")).to_have_text("报名中")
    page.get_by_role("link", name="陪老人下棋").click()
    expect(page.locator("#activity-phase")).to_have_text("报名中")
    expect(page.get_by_role("button", name="报名", exact=True)).to_be_visible()
