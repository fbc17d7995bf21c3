"""The grid lists of the wish form and the review page: the chosen community's grids only, in the order people
count them (第一、第二、第三 … 第十), and dropdowns that say what to choose instead of "---------"."""

import re

import pytest
from django.urls import reverse
from playwright.sync_api import expect

from demands.models import MicroWish
from tests.members.factories import GridFactory

NEW = "/wishes/new/"


def _options(html: str, select_id: str) -> list[str]:
    select = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', html, re.S)
    assert select, select_id
    return [re.sub(r"\s+", " ", text).strip() for text in re.findall(r"<option[^>]*>(.*?)</option>", select.group(1))]


@pytest.fixture
def numbered_grids(org_tree):
    """Grids of community A created in the order a string sort gets wrong, beside its 一网格 (grid_a)."""
    for name in ("第三网格", "第十网格", "第二网格", "第十一网格"):
        GridFactory(name=name, community=org_tree.community_a)
    return org_tree


@pytest.mark.django_db
def test_the_wish_form_lists_grids_in_natural_order_with_their_community(client, numbered_grids):
    html = client.get(NEW).content.decode()
    assert _options(html, "id_grid") == [
        "请选择网格",
        "东风村 · 一网格",
        "东风村 · 第二网格",
        "东风村 · 第三网格",
        "东风村 · 第十网格",
        "东风村 · 第十一网格",
        "西岭村 · 一网格",
    ]
    # What the page's script needs to follow the community list, from static/, not a CDN.
    assert 'data-grids-of="id_community"' in html
    assert f'data-community="{numbered_grids.community_b.pk}" data-name="一网格"' in html
    assert re.search(r'<script src="/static/js/grids\.js"></script>', html)


@pytest.mark.django_db
def test_the_public_form_dropdowns_say_what_to_choose(client, numbered_grids, helping):
    html = client.get(NEW).content.decode()
    assert "---------" not in html
    assert _options(html, "id_community")[0] == "请选择所在社区"


@pytest.mark.django_db
def test_the_review_page_lists_the_wish_community_grids_in_natural_order(client, numbered_grids, secretary_a, wish_a):
    client.force_login(secretary_a)
    html = client.get(reverse("demands:review_detail", args=[wish_a.pk])).content.decode()
    assert _options(html, "id_grid") == ["请选择网格", "一网格", "第二网格", "第三网格", "第十网格", "第十一网格"]
    assert "---------" not in html


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_on_a_phone_the_grid_list_follows_the_chosen_community(phone_page, numbered_grids, helping):
    page = phone_page
    page.goto(NEW)
    grid = page.get_by_label("网格（不清楚可不选）")
    expect(grid.locator("option")).to_have_text(["请选择网格"])

    page.get_by_label("所在社区（村）").select_option(label="东风村")
    expect(grid.locator("option")).to_have_text(
        ["请选择网格", "一网格", "第二网格", "第三网格", "第十网格", "第十一网格"]
    )
    grid.select_option(label="第三网格")

    # Another community: its grids only, and the grid chosen for the first one is let go.
    page.get_by_label("所在社区（村）").select_option(label="西岭村")
    expect(grid.locator("option")).to_have_text(["请选择网格", "一网格"])
    expect(grid).to_have_value("")

    page.get_by_label("所在社区（村）").select_option(label="东风村")
    grid.select_option(label="第十网格")
    page.get_by_label("心愿类别").select_option(label="助老")
    page.get_by_label("心愿标题").fill("帮忙修理漏水的水龙头")
    page.get_by_label("具体内容").fill("厨房水龙头一直滴水，老人自己修不了。")
    page.get_by_role("textbox", name="联系人").fill("张桂英")
    page.get_by_role("textbox", name="手机号").fill("139 0000 1234")
    page.get_by_label("我同意为办理本心愿处理我的姓名和手机号").check()
    page.get_by_role("button", name="提交心愿").click()
    expect(page.locator("#tracking-code")).to_be_visible()
    assert MicroWish.objects.get().grid.name == "第十网格"
