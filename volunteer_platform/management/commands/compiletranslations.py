"""Compile the project's translation catalogues without GNU gettext.

Django's `compilemessages` runs `msgfmt`, which a fresh server or CI image often lacks; polib is a runtime
requirement already, so this command writes the `.mo` files with it. Like `msgfmt --check-format` it refuses
a translation whose `%(name)s` placeholders do not fit the source (that would raise at render time), and unlike
msgfmt it also refuses fuzzy or untranslated entries, which would otherwise show Chinese on an English page.
"""

import re
from pathlib import Path

import polib
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

# A printf-style directive as Python's %-operator reads it: optional (name), flags, width, precision, conversion.
_PYTHON_FORMAT = re.compile(
    r"%(?:\((?P<name>[^)]*)\))?[#0 +\-]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?(?P<conversion>[diouxXeEfFgGcrsa%])"
)
_SHOWN_PER_FILE = 10


def _directives(text: str) -> tuple[set[str], list[str]]:
    """The named placeholders of `text` and the conversions of its positional ones, in order."""
    names, positional = set(), []
    for match in _PYTHON_FORMAT.finditer(text):
        if match["conversion"] == "%":
            continue
        if match["name"] is not None:
            names.add(match["name"])
        else:
            positional.append(match["conversion"])
    return names, positional


def _format_problem(entry: polib.POEntry) -> str | None:
    """Why the translation of a python-format entry would fail or mislead at render time, or None."""
    source_names, source_positional = _directives(entry.msgid)
    if entry.msgid_plural:
        plural_names, source_positional = _directives(entry.msgid_plural)
        source_names |= plural_names
        translations = list(entry.msgstr_plural.values())
    else:
        translations = [entry.msgstr]
    for translation in translations:
        names, positional = _directives(translation)
        if names - source_names:
            return f"placeholders not in the source: {', '.join(sorted(names - source_names))}"
        if not entry.msgid_plural and positional != source_positional:
            return "positional placeholders differ from the source"
    return None


def catalogue_problems(po: polib.POFile) -> list[str]:
    """Every entry of `po` that must not be compiled as it is, described in one line each."""
    problems = []
    for entry in po:
        if entry.obsolete:
            continue
        if entry.fuzzy:
            problems.append(f"fuzzy: {entry.msgid!r}")
        elif not entry.translated():
            problems.append(f"untranslated: {entry.msgid!r}")
        elif "python-format" in entry.flags and (problem := _format_problem(entry)):
            problems.append(f"{problem}: {entry.msgid!r}")
    return problems


class Command(BaseCommand):
    help = "Compile every locale/*/LC_MESSAGES/*.po of LOCALE_PATHS to .mo with polib (no GNU gettext needed)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--allow-incomplete",
            action="store_true",
            help="Compile even with fuzzy or untranslated entries (they are left out; the source text shows).",
        )

    def handle(self, *args, allow_incomplete: bool = False, **options):
        catalogues = sorted(
            po_path for locale_dir in settings.LOCALE_PATHS for po_path in Path(locale_dir).glob("*/LC_MESSAGES/*.po")
        )
        if not catalogues:
            raise CommandError(f"No catalogue found under LOCALE_PATHS ({', '.join(map(str, settings.LOCALE_PATHS))}).")

        failures = []
        for po_path in catalogues:
            try:
                po = polib.pofile(str(po_path))
            except (OSError, ValueError) as exc:
                failures.append(f"{po_path}: cannot be read ({exc})")
                continue
            problems = catalogue_problems(po)
            format_problems = [p for p in problems if not p.startswith(("fuzzy:", "untranslated:"))]
            blocking = problems if not allow_incomplete else format_problems
            if blocking:
                shown = "\n  ".join(blocking[:_SHOWN_PER_FILE])
                more = f"\n  … and {len(blocking) - _SHOWN_PER_FILE} more" if len(blocking) > _SHOWN_PER_FILE else ""
                failures.append(f"{po_path}: {len(blocking)} problem(s)\n  {shown}{more}")
                continue
            mo_path = po_path.with_suffix(".mo")
            po.save_as_mofile(str(mo_path))
            skipped = f", {len(problems)} left out" if problems else ""
            self.stdout.write(f"Compiled {po_path} → {mo_path.name} ({len(po.translated_entries())} messages{skipped})")

        if failures:
            hint = "" if allow_incomplete else "\nTranslate them, or pass --allow-incomplete to compile the others."
            raise CommandError("Some catalogues were not compiled:\n" + "\n".join(failures) + hint)
