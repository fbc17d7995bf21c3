"""Names kept in database rows (categories, catalogue items) in the site's two languages: the Chinese one is the
row's `name`, an optional English one (`name_en`) shows in English mode. Templates show `display_name` and the
models' str() returns it too, so choice lists follow the language without a check of their own."""

from django.utils.translation import get_language


def in_english() -> bool:
    return (get_language() or "").split("-")[0] == "en"


def localized(chinese: str, english: str) -> str:
    """`english` in English mode when it is filled in, else `chinese`."""
    return english if english and in_english() else chinese


class EnglishNamed:
    """For a model with the fields `name` and `name_en`."""

    name: str
    name_en: str

    @property
    def display_name(self) -> str:
        return localized(self.name, self.name_en)
