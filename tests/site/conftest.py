import pytest


@pytest.fixture(scope="session", autouse=True)
def _compiled_translations(django_test_environment):
    """The .mo files are build products (not in git): compile them once, as a deployment does, before any page."""
    from django.conf import settings
    from django.core.management import call_command
    from django.test.signals import setting_changed

    call_command("compiletranslations", allow_incomplete=True, verbosity=0)
    # Forget catalogues loaded before the .mo files existed (the same reset Django does when LOCALE_PATHS changes).
    setting_changed.send(sender=None, setting="LOCALE_PATHS", value=settings.LOCALE_PATHS, enter=False)


@pytest.fixture(autouse=True)
def _default_language():
    """A request leaves its language active in the thread: start every test in the default language."""
    from django.conf import settings
    from django.utils import translation

    with translation.override(settings.LANGUAGE_CODE):
        yield
