"""The current star rating (computed by incentives, above members) shows on the profile and the certificate."""

from io import BytesIO
from types import SimpleNamespace

import pytest
from django.urls import reverse
from pypdf import PdfReader


def three_stars(member):
    """A standing as the provider answers it (incentives.selectors.StarStanding): 3 stars final, none in 公示."""
    return SimpleNamespace(stars=3, current=object(), publicity=None, publicity_url="")


def _pdf_text(response) -> str:
    reader = PdfReader(BytesIO(b"".join(response.streaming_content) if response.streaming else response.content))
    return "".join(page.extract_text() for page in reader.pages).replace("\n", "")


@pytest.fixture
def rated(settings):
    settings.MEMBERS_STARS_PROVIDER = "tests.members.test_stars.three_stars"


def test_profile_shows_the_stars(member_a, client, rated):
    client.force_login(member_a.user)
    page = client.get(reverse("members:me")).content.decode()
    assert "★★★" in page
    assert "3 星" in page


def test_profile_of_a_member_never_rated_says_so(member_a, client):
    # the real provider (incentives.selectors.star_standing) answers 0 stars for a member without a final rating
    client.force_login(member_a.user)
    assert "暂未评星" in client.get(reverse("members:me")).content.decode()


def test_certificate_states_the_stars(member_a, client, rated):
    client.force_login(member_a.user)
    text = _pdf_text(client.get(reverse("members:me_certificate")))
    assert "星级评定：★★★（3星）" in text


def test_without_a_provider_neither_page_mentions_stars(member_a, client, settings):
    settings.MEMBERS_STARS_PROVIDER = ""
    client.force_login(member_a.user)
    assert "星级评定" not in client.get(reverse("members:me")).content.decode()
    assert "星级评定" not in _pdf_text(client.get(reverse("members:me_certificate")))
