"""`next` is only a path on this site (core/redirects.py): every view that takes one falls back to its own page for
anything else — a bare word that `redirect()` would reverse as a view name (the sweep's 500), another host, a
scheme-relative or backslashed path, control characters, an over-long value."""

import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone

from core.redirects import MAX_NEXT_LENGTH, redirect_next, safe_next_url
from notifications.models import Notification
from tests.security.args import url_for
from tests.security.world import build_world

BAD = [
    "undefined",
    "home",
    "notifications:inbox",
    "javascript:alert(1)",
    "http://evil.example/",
    "https://testserver/me/",  # even this host: only a path is accepted
    "//evil.example/",
    "/\\evil.example/",
    "\\\\evil.example",
    "/\tevil",
    "/me/\x00",
    "/me/\r\nSet-Cookie: x=1",
    "/me/\x7f",
    "/me/\x85",
    "/" + "a" * MAX_NEXT_LENGTH,
    "",
    " /me/",
    "me/",
    "../me/",
    "\u202e/me/",
]
GOOD = ["/me/", "/training/sessions/1/?page=2#top", "/projects/%E5%8A%A9%E8%80%81/", "/项目/"]


@pytest.mark.parametrize("value", BAD)
def test_anything_but_a_path_on_this_site_is_refused(value, rf: RequestFactory):
    assert safe_next_url(rf.post("/x/", secure=False), value) is None


@pytest.mark.parametrize("value", GOOD)
def test_a_path_on_this_site_is_kept(value, rf: RequestFactory):
    assert safe_next_url(rf.post("/x/"), value) == value
    assert safe_next_url(rf.post("/x/", secure=True), value) == value


def test_redirect_next_reads_post_then_query_and_never_reverses_request_text(rf: RequestFactory):
    assert redirect_next(rf.post("/x/", {"next": "/me/"}), "home").url == "/me/"
    assert redirect_next(rf.post("/x/?next=/me/inbox/", {}), "home").url == "/me/inbox/"
    assert redirect_next(rf.get("/x/", {"next": "/me/"}), "home").url == "/me/"
    # A view name in the request is text, not a name: the fallback (a name the code chose) is reversed instead.
    assert redirect_next(rf.post("/x/", {"next": "notifications:inbox"}), "home").url == reverse("home")
    assert redirect_next(rf.post("/x/", {"next": "undefined"}), "/fallback/").url == "/fallback/"


@pytest.fixture
def world(platform_admin):
    return build_world(platform_admin)


# Each view that takes `next` (in pairs that undo each other: a cancel needs the sign-up before it), and the page
# it falls back to.
VIEWS = [
    ("notifications:inbox_mark_all_read", lambda w: reverse("notifications:inbox")),
    ("notifications:inbox_mark_read", lambda w: reverse("notifications:inbox")),
    ("projects:activity_signup", lambda w: reverse("projects:activity_detail", args=[w.activity.pk])),
    ("projects:activity_cancel_signup", lambda w: reverse("projects:activity_detail", args=[w.activity.pk])),
    ("training:enroll", lambda w: reverse("training:session_detail", args=[w.session.pk])),
    ("training:cancel_enrollment", lambda w: reverse("training:session_detail", args=[w.session.pk])),
]
NEXT_BAD = ("undefined", "http://evil.example/", "//evil.example/", "/me/\x00", "/" + "a" * 3000)


@pytest.mark.django_db
def test_every_view_that_takes_next_falls_back_on_a_bad_one(world):
    Notification.objects.filter(pk=world.notification.pk).update(
        status=Notification.Status.SENT, sent_at=timezone.now()
    )
    client = Client()
    client.force_login(world.member_a.user)
    failures = []
    for value, expected in [*((bad, None) for bad in NEXT_BAD), ("/me/?from=test", "/me/?from=test")]:
        for name, fallback in VIEWS:
            response = client.post(url_for(name, world), {"next": value})
            if response.status_code != 302 or response.url != (expected or fallback(world)):
                failures.append(f"{name} next={value[:20]!r}: {response.status_code} {response.get('Location')}")
    assert not failures, "\n".join(failures)


@pytest.mark.django_db
def test_sign_in_and_out_follow_only_a_path_on_this_site(member_a):
    member_a.user.set_password("pw-123456")
    member_a.user.save()
    # A refused next falls back to where each lands without one: a member's own page after signing in, home after
    # signing out.
    for value, followed in (("undefined", False), ("//evil.example/", False), ("/projects/", True)):
        client = Client()
        page = client.get(reverse("login"), {"next": value})
        assert page.status_code == 200 and page.context["next"] == (value if followed else "")
        response = client.post(reverse("login"), {"username": "member_a", "password": "pw-123456", "next": value})
        assert response.status_code == 302 and response.url == (value if followed else reverse("members:me")), value
        response = client.post(reverse("logout"), {"next": value})
        assert response.status_code == 302 and response.url == (value if followed else reverse("home")), value


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("data", "referer", "expected"),
    [
        ({"next": "/projects/"}, "", "/projects/"),
        ({"next": "undefined"}, "", "/"),  # Django's switch answered a redirect to the bare word
        ({"next": "//evil.example/"}, "", "/"),
        ({"next": "undefined"}, "http://testserver/wishes/?page=2", "/wishes/?page=2"),  # where the visitor was
        ({"next": "undefined"}, "http://evil.example/wishes/", "/"),
        ({}, "", "/"),
    ],
)
def test_the_language_switch_returns_only_to_a_path_on_this_site(client, data, referer, expected):
    extra = {"HTTP_REFERER": referer} if referer else {}
    response = client.post(reverse("set_language"), {"language": "en", **data}, **extra)
    assert response.status_code == 302 and response.url == expected
    assert response.cookies["django_language"].value == "en"
    assert client.get(reverse("set_language"), data, **extra).url == expected
