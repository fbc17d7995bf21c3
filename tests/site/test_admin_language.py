"""The Chinese admin speaks Chinese: every app heading and model name of the index and the sidebar, third-party
apps included (axes' 登录记录, the schedules of django-celery-beat), and the pages of each registered model."""

import html as html_lib
import re

import pytest
from django.contrib import admin
from django.urls import reverse

pytestmark = pytest.mark.django_db

WORD = re.compile(r"(?<![A-Za-z])[A-Za-z]{2,}(?![A-Za-z])")


def _english(text: str) -> list[str]:
    """The words in Latin letters of `text`; "IP" is how Chinese writes it too."""
    return [word for word in WORD.findall(text) if word != "IP"]


def _index_names(html: str) -> list[str]:
    """The app headings (captions) and model names of the admin index, as the page shows them."""
    captions = re.findall(r"<caption>\s*<a[^>]*>(.*?)</a>", html, re.S)
    models = re.findall(r'<th scope="row"[^>]*>\s*(?:<a[^>]*>)?(.*?)(?:</a>)?\s*</th>', html, re.S)
    return [html_lib.unescape(re.sub(r"\s+", " ", name).strip()) for name in captions + models]


def test_the_admin_index_names_every_app_and_model_in_chinese(client, platform_admin):
    client.force_login(platform_admin)
    names = _index_names(client.get(reverse("admin:index")).content.decode())
    assert len(names) > 20  # the page was read: every app and model of the platform is listed for a superuser
    assert [name for name in names if _english(name)] == []


def test_every_model_page_title_and_breadcrumb_is_chinese(client, platform_admin):
    client.force_login(platform_admin)
    english = []
    for model in admin.site._registry:
        opts = model._meta
        html = client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")).content.decode()
        title = re.search(r"<title>(.*?)</title>", html, re.S).group(1)
        crumbs = re.search(r'<div class="breadcrumbs">(.*?)</div>', html, re.S).group(1)
        for text in (html_lib.unescape(title), html_lib.unescape(re.sub(r"<[^>]+>", " ", crumbs))):
            if _english(text):
                english.append(f"{opts.label}: {' '.join(text.split())}")
    assert english == [], english


def test_axes_columns_filters_and_fieldsets_are_chinese(client, platform_admin):
    """django-axes ships no Chinese: its column headers, filters and fieldsets come from the project's zh_Hans
    catalogue of third-party strings (locale/zh_Hans)."""
    client.force_login(platform_admin)
    english = []
    for name in ("accessattempt", "accessfailurelog", "accesslog"):
        html = client.get(reverse(f"admin:axes_{name}_changelist")).content.decode()
        headers = re.findall(r'<th scope="col"[^>]*>.*?<a[^>]*>(.*?)</a>', html, re.S)
        headers += re.findall(r'<th scope="col"[^>]*>\s*<div class="text"><span>(.*?)</span>', html, re.S)
        filters = re.findall(r"<summary>\s*(.*?)\s*</summary>", html, re.S)
        texts = [html_lib.unescape(re.sub(r"<[^>]+>", "", t)).strip() for t in headers + filters]
        assert texts, name  # the columns were read
        english += [f"{name}: {text}" for text in texts if _english(text)]
    assert english == [], english
