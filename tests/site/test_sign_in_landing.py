"""After signing in without a `next`, each person lands where their work is."""

import pytest

from tests.factories import UserFactory

LOGIN = "/accounts/login/"
PASSWORD = "a-long-test-password"


def _sign_in(client, user, **query):
    user.set_password(PASSWORD)
    user.save()
    url = LOGIN + ("?next=" + query["next"] if "next" in query else "")
    return client.post(url, {"username": user.username, "password": PASSWORD})


@pytest.mark.django_db
def test_a_secretary_lands_on_the_dashboard(client, secretary_a):
    response = _sign_in(client, secretary_a)
    assert response.status_code == 302 and response["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200


@pytest.mark.django_db
def test_a_member_lands_on_their_own_page(client, member_a):
    response = _sign_in(client, member_a.user)
    assert response.status_code == 302 and response["Location"] == "/me/"
    assert client.get("/me/").status_code == 200


@pytest.mark.django_db
def test_an_account_without_a_member_or_an_organization_lands_home(client):
    response = _sign_in(client, UserFactory(username="plain"))
    assert response.status_code == 302 and response["Location"] == "/"


@pytest.mark.django_db
def test_a_next_on_this_site_still_wins(client, member_a):
    response = _sign_in(client, member_a.user, next="/projects/")
    assert response["Location"] == "/projects/"
