"""English mode shows the English names of database rows — wish and project categories, catalogue items — where
they are filled in, the Chinese ones otherwise; Chinese mode always shows the Chinese names. The starting
categories and the demo catalogue come with English names."""

import importlib
import re

import pytest
from django.utils import translation

from demands.models import WishCategory
from incentives import demo as incentives_demo
from projects.models import ProjectCategory
from tests.demands.factories import publish, submit_wish
from tests.factories import DEFAULT_PASSWORD
from tests.incentives.conftest import fund, make_item
from tests.projects.factories import ProjectFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def english(client):
    client.cookies["django_language"] = "en"
    return client


@pytest.fixture
def elderly():
    return WishCategory.objects.update_or_create(name="助老", defaults={"name_en": "Elderly care"})[0]


def test_the_model_gives_the_name_of_the_current_language(elderly):
    blank = WishCategory.objects.create(name="邻里互助")

    with translation.override("en"):
        assert (elderly.display_name, str(elderly), blank.display_name) == ("Elderly care", "Elderly care", "邻里互助")
    with translation.override("zh-hans"):
        assert (elderly.display_name, str(elderly)) == ("助老", "助老")


def test_the_wall_and_the_wish_form_show_english_categories(english, org_tree, secretary_a, elderly):
    publish(submit_wish(org_tree.community_a, category=elderly), secretary_a)

    wall = english.get("/wishes/").content.decode()
    form = english.get("/wishes/new/").content.decode()

    assert '<span class="badge text-bg-primary">Elderly care</span>' in wall
    assert ">Elderly care</option>" in wall  # the filter
    assert ">Elderly care</option>" in form
    assert "助老" not in wall + form


def test_chinese_mode_keeps_the_chinese_names(client, org_tree, secretary_a, elderly):
    publish(submit_wish(org_tree.community_a, category=elderly), secretary_a)

    wall = client.get("/wishes/").content.decode()

    assert '<span class="badge text-bg-primary">助老</span>' in wall
    assert "Elderly care" not in wall


def test_projects_show_english_categories(english, org_tree):
    category = ProjectCategory.objects.update_or_create(name="平安巡逻", defaults={"name_en": "Safety patrols"})[0]
    ProjectFactory(organization=org_tree.branch_a, slug="patrol", category=category)

    listing = english.get("/projects/").content.decode()
    detail = english.get("/projects/patrol/").content.decode()

    assert '<span class="badge text-bg-danger">Safety patrols</span>' in listing
    assert '<dd class="col-sm-9">Safety patrols</dd>' in detail
    assert "平安巡逻" not in listing + detail


def test_rewards_show_english_names_and_descriptions(english, member_a):
    fund(member_a, 100)
    make_item(name="理发", name_en="Haircut", description="一次理发服务。", description_en="One haircut.")
    make_item(name="图书", description="一本书。")  # no English yet: the Chinese name shows
    english.login(username=member_a.user.username, password=DEFAULT_PASSWORD)

    page = english.get("/rewards/").content.decode()

    assert ">Haircut</h2>" in page and '<p class="card-text">One haircut.</p>' in page
    assert "理发" not in page and "一次理发服务" not in page
    assert ">图书</h2>" in page
    # The colon comes with the translated label, not glued on in Chinese ("Points needed：30").
    cards = re.findall(r'<section class="card h-100 catalogue-item".*?</section>', page, re.S)
    assert len(cards) == 2 and "Points needed: <strong>50</strong>" in cards[0]
    assert [card for card in cards if "：" in card] == []


@pytest.mark.parametrize("app, filled_by", [("demands", "0006_english_names"), ("projects", "0007_english_names")])
def test_every_starting_category_gets_an_english_name(app, filled_by):
    names = importlib.import_module(f"{app}.migrations.0002_default_categories").CATEGORIES
    english = importlib.import_module(f"{app}.migrations.{filled_by}").ENGLISH

    assert set(english) == set(names)
    assert all(value.isascii() and value for value in english.values())


def test_the_demo_catalogue_has_english_names_and_descriptions():
    for spec in incentives_demo.CATALOGUE:
        assert spec["name_en"].isascii() and spec["description_en"].isascii(), spec["name"]
