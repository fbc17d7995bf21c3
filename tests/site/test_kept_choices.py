"""The public filters' options (core.forms.kept_choices) and their select (core.widgets.QuickSelect): the options
are kept a minute per language, a submitted value is still checked against the database, and the select is drawn
as Django's own would be."""

import re

from django import forms
from django.core.cache import cache
from django.test.html import parse_html
from django.utils import translation

from core.forms import forget_kept_choices
from core.widgets import QuickSelect
from demands.forms import WallFilterForm
from demands.models import WishCategory
from tests.members.factories import CommunityFactory


def _options(form: WallFilterForm, name: str) -> list[str]:
    return re.findall(r"<option[^>]*>([^<]*)</option>", str(form[name]))


def test_the_options_are_kept_and_a_submitted_value_is_still_checked(org_tree):
    cache.clear()
    forget_kept_choices()
    assert "东风村" in _options(WallFilterForm(), "community")

    newcomer = CommunityFactory(name="新建村", organization=org_tree.branch_a)
    assert "新建村" not in _options(WallFilterForm(), "community")  # kept: shown within CHOICES_TIMEOUT
    chosen = WallFilterForm({"community": str(newcomer.pk)})
    assert chosen.is_valid() and chosen.cleaned_data["community"] == newcomer  # the database decides
    assert not WallFilterForm({"community": "999999999"}).is_valid()

    forget_kept_choices()
    assert "新建村" in _options(WallFilterForm(), "community")


def test_the_options_are_kept_per_language(db):
    cache.clear()
    forget_kept_choices()
    WishCategory.objects.create(name="助学", name_en="Study help")
    with translation.override("zh-hans"):
        chinese = _options(WallFilterForm(), "category")
    with translation.override("en"):
        english = _options(WallFilterForm(), "category")
    assert "助学" in chinese and "Study help" not in chinese
    assert "Study help" in english and "助学" not in english


def test_the_quick_select_draws_what_djangos_select_draws():
    choices = [("", "全部"), ("1", "东风村 <1>"), ("2", "西岭村 & 2"), ("Group", [("3", "三号"), ("4", "四号")])]
    attrs = {"id": "id_community", "class": "form-select form-select-sm", "required": True}
    for value in ("", "2", "4", None):
        quick = QuickSelect(choices=choices).render("community", value, attrs=attrs)
        django = forms.Select(choices=choices).render("community", value, attrs=attrs)
        assert parse_html(quick) == parse_html(django), value  # as assertHTMLEqual: attributes in any order
