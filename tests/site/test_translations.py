"""The English catalogue is complete, and `compiletranslations` builds .mo files without GNU gettext."""

import shutil

import polib
import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from volunteer_platform.management.commands.compiletranslations import catalogue_problems

EN_PO = settings.BASE_DIR / "locale" / "en" / "LC_MESSAGES" / "django.po"


def test_english_catalogue_is_complete():
    po = polib.pofile(str(EN_PO))

    assert not po.metadata_is_fuzzy
    assert po.metadata["Language"] == "en"
    assert [e.msgid for e in po if not e.obsolete and e.fuzzy] == []
    assert [e.msgid for e in po if not e.obsolete and not e.translated()] == []
    assert catalogue_problems(po) == []


@pytest.fixture
def locale_copy(tmp_path, settings):
    """A copy of the project's locale folder, used as the only LOCALE_PATHS entry."""
    shutil.copytree(settings.BASE_DIR / "locale", tmp_path / "locale", ignore=shutil.ignore_patterns("*.mo"))
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    return tmp_path / "locale"


def test_compiletranslations_writes_mo_files(locale_copy):
    call_command("compiletranslations", verbosity=0)

    mo = polib.mofile(str(locale_copy / "en" / "LC_MESSAGES" / "django.mo"))
    assert mo.find("党员志愿服务平台").msgstr == "Party Member Volunteer Service Platform"
    assert len(mo) == len(polib.pofile(str(locale_copy / "en" / "LC_MESSAGES" / "django.po")).translated_entries())


def _add_entry(locale_copy, **fields):
    po_path = locale_copy / "en" / "LC_MESSAGES" / "django.po"
    po = polib.pofile(str(po_path))
    po.append(polib.POEntry(**fields))
    po.save()


@pytest.mark.parametrize(
    "entry",
    [
        {"msgid": "模糊的条目", "msgstr": "Fuzzy entry", "flags": ["fuzzy"]},
        {"msgid": "没有翻译的条目", "msgstr": ""},
    ],
    ids=["fuzzy", "untranslated"],
)
def test_compiletranslations_refuses_an_incomplete_catalogue(locale_copy, entry):
    _add_entry(locale_copy, **entry)

    with pytest.raises(CommandError, match=entry["msgid"]):
        call_command("compiletranslations", verbosity=0)
    assert not (locale_copy / "en" / "LC_MESSAGES" / "django.mo").exists()

    call_command("compiletranslations", allow_incomplete=True, verbosity=0)
    mo = polib.mofile(str(locale_copy / "en" / "LC_MESSAGES" / "django.mo"))
    assert mo.find(entry["msgid"]) is None  # left out: the Chinese source shows instead
    assert mo.find("党员志愿服务平台") is not None


@pytest.mark.parametrize(
    ("msgid", "msgstr"),
    [("%(name)s，您好", "Hello %(nmae)s"), ("共 %d 小时", "%d hours in %s")],
    ids=["unknown name", "positional count"],
)
def test_compiletranslations_refuses_a_placeholder_mismatch_even_when_incomplete_is_allowed(locale_copy, msgid, msgstr):
    _add_entry(locale_copy, msgid=msgid, msgstr=msgstr, flags=["python-format"])

    with pytest.raises(CommandError, match="placeholders"):
        call_command("compiletranslations", allow_incomplete=True, verbosity=0)


def test_compiletranslations_without_catalogues_fails(tmp_path, settings):
    settings.LOCALE_PATHS = [tmp_path]

    with pytest.raises(CommandError, match="No catalogue"):
        call_command("compiletranslations", verbosity=0)


def test_djangos_form_messages_keep_djangos_wording_beside_other_catalogues():
    """An installed app's catalogue is searched before Django's own: Django REST framework's words "This field is
    required." (and six more) otherwise, and the pages and the API would change wording. locale/zh_Hans keeps
    Django's for every message another installed catalogue translates differently."""
    from pathlib import Path

    import django
    import polib
    from django.apps import apps
    from django.utils import translation

    ours = Path(django.__file__).parent / "conf/locale/zh_Hans/LC_MESSAGES/django.mo"
    djangos = {
        entry.msgid: entry.msgstr for entry in polib.mofile(str(ours)) if entry.msgstr and not entry.msgid_plural
    }
    checked = 0
    with translation.override("zh-hans"):
        for config in apps.get_app_configs():
            catalogue = Path(config.path) / "locale/zh_Hans/LC_MESSAGES/django.mo"
            if not catalogue.exists() or config.name.startswith("django.") or config.name == "django":
                continue
            for entry in polib.mofile(str(catalogue)):
                if entry.msgid in djangos and not entry.msgid_plural and not entry.msgctxt:
                    checked += 1
                    assert translation.gettext(entry.msgid) == djangos[entry.msgid], (config.name, entry.msgid)
    assert checked > 0
