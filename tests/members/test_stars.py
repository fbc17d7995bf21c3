"""The current star rating (computed by incentives, composed by the site's portal pages) on /me/ and the
certificate: the latest final rating's stars, nothing stated for a member never rated."""

from io import BytesIO

import pytest
from django.urls import reverse
from pypdf import PdfReader

from tests.incentives.test_pages import add_rating

pytestmark = pytest.mark.django_db


def _pdf_text(response) -> str:
    reader = PdfReader(BytesIO(b"".join(response.streaming_content) if response.streaming else response.content))
    return "".join(page.extract_text() for page in reader.pages).replace("\n", "")


def test_profile_and_certificate_state_the_final_stars(member_a, client):
    add_rating(member_a, stars=3)
    client.force_login(member_a.user)
    page = client.get(reverse("members:me")).content.decode()
    assert "★★★" in page and "3 星" in page
    assert "星级评定：★★★（3星）" in _pdf_text(client.get(reverse("members:me_certificate")))


def test_a_member_never_rated_is_told_so_and_the_certificate_states_no_stars(member_a, client):
    client.force_login(member_a.user)
    assert "暂未评星" in client.get(reverse("members:me")).content.decode()
    assert "星级评定" not in _pdf_text(client.get(reverse("members:me_certificate")))
