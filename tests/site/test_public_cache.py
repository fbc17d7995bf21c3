"""The public pages an anonymous visitor sees are served from the shared cache (core/public_cache.py) and are
fresh again as soon as a service changes what they show: a wish published or claimed (the wall), a project's
activity added, a seat taken (/projects/, the brand page, the activity page). Signed-in members and visitors
with messages never get a cached page; the cached page's CSRF token is each visitor's own."""

import re

import pytest
from django.middleware.csrf import _unmask_cipher_token
from django.test import Client

from core import public_cache
from projects import services as project_services
from tests.demands.factories import publish, submit_wish, wish_category
from tests.projects.factories import ActivityFactory, ProjectFactory, days_ahead_at
from tests.queries import count_queries

pytestmark = pytest.mark.django_db

TOKEN = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')


@pytest.fixture
def project(org_tree):
    return ProjectFactory(organization=org_tree.branch_a, slug="yinling", title="银龄关爱行动")


def test_a_second_anonymous_visit_costs_no_query(client, project):
    ActivityFactory(project=project)
    for url in ("/", "/wishes/", "/projects/", "/projects/yinling/"):
        first = client.get(url)
        assert first.status_code == 200
        answers = []
        queries, sql = count_queries(lambda url=url, answers=answers: answers.append(Client().get(url)))
        assert answers[0].status_code == 200
        assert queries == 0, (url, sql)
        # The same page, but for the visitor's own CSRF token.
        assert TOKEN.sub("", answers[0].content.decode()) == TOKEN.sub("", first.content.decode())
        assert TOKEN.search(answers[0].content.decode()).group(1) != TOKEN.search(first.content.decode()).group(1)


def test_the_wall_shows_a_wish_published_after_it_was_cached(client, org_tree, secretary_a):
    wish_category("助老")
    assert "修理水龙头" not in client.get("/wishes/").content.decode()
    publish(submit_wish(org_tree.community_a), secretary_a)
    assert "修理水龙头" in Client().get("/wishes/").content.decode()


def test_pages_of_projects_follow_new_activities_and_seats(client, project, member_a):
    client.get("/projects/yinling/")
    activity = ActivityFactory(project=project, capacity=2)
    assert f"/activities/{activity.pk}/" in Client().get("/projects/yinling/").content.decode()
    assert 'id="seats-left">2 / 2' in Client().get(f"/activities/{activity.pk}/").content.decode()
    project_services.signup_create(activity=activity, member=member_a)
    assert 'id="seats-left">1 / 2' in Client().get(f"/activities/{activity.pk}/").content.decode()
    assert "剩余 1 / 2" in Client().get("/projects/yinling/").content.decode()


def _projects_version():
    return public_cache.current_versions([public_cache._version_key("projects")])


def test_a_save_outside_any_service_refreshes_the_pages_too(client, project):
    """The pages follow the rows' signals (public_cache.watch), not calls each service must remember: a change made
    in the admin or the shell — here a plain save() and a delete() — is seen at once."""
    assert "银龄关爱行动" in client.get("/projects/").content.decode()
    project.title = "夕阳红关爱行动"
    project.save()
    assert "夕阳红关爱行动" in Client().get("/projects/").content.decode()
    project.delete()
    assert "夕阳红关爱行动" not in Client().get("/projects/").content.decode()


def _activity_version(activity):
    return public_cache.current_versions([public_cache._object_key("activity", activity.pk)])


def test_saving_only_fields_no_public_page_shows_keeps_the_pages(project, member_a):
    activity = ActivityFactory(project=project)
    signup = project_services.signup_create(activity=activity, member=member_a)
    before, activity_before = _projects_version(), _activity_version(activity)
    activity.save(update_fields=["checkin_code"])
    signup.save(update_fields=["checked_in_at", "checkin_position", "checkin_distance_m"])
    assert (_projects_version(), _activity_version(activity)) == (before, activity_before)
    signup.save(update_fields=["status"])
    assert _activity_version(activity) != activity_before
    assert _projects_version() == before  # a sign-up is its activity's and project's business alone


def _cached(url: str) -> bool:
    """An anonymous visit to `url` is served from the cache (no query)."""
    queries, _sql = count_queries(lambda: Client().get(url))
    return queries == 0


def test_a_sign_up_drops_the_pages_that_show_its_activity_and_no_other(project, org_tree, member_a):
    """Its activity's page and its project's brand page are exact at once; another activity's page and another
    project's brand page stay cached; the list (/projects/) keeps its page for its minute, and says so."""
    activity = ActivityFactory(project=project, capacity=2)
    sibling = ActivityFactory(project=project, capacity=2, starts_at=days_ahead_at(6))
    other_project = ProjectFactory(organization=org_tree.branch_a, slug="other", title="法律咨询")
    other = ActivityFactory(project=other_project, capacity=2)
    pages = [
        "/projects/",
        "/projects/yinling/",
        "/projects/other/",
        *(f"/activities/{a.pk}/" for a in (activity, sibling, other)),
    ]
    for url in pages:
        assert Client().get(url).status_code == 200
        assert _cached(url), url
    assert "名额状态每分钟更新" in Client().get("/projects/").content.decode()

    project_services.signup_create(activity=activity, member=member_a)

    assert not _cached(f"/activities/{activity.pk}/")
    assert 'id="seats-left">1 / 2' in Client().get(f"/activities/{activity.pk}/").content.decode()
    assert not _cached("/projects/yinling/")
    assert "剩余 1 / 2" in Client().get("/projects/yinling/").content.decode()
    for url in ("/projects/", "/projects/other/", f"/activities/{sibling.pk}/", f"/activities/{other.pk}/"):
        assert _cached(url), f"{url} was dropped by a sign-up it does not show"


def test_an_edit_of_an_activity_drops_every_project_page(project, org_tree):
    """What an organizer edits (the time, the place, a cancellation) is on the list and the brand pages as well."""
    activity = ActivityFactory(project=project)
    other = ActivityFactory(project=ProjectFactory(organization=org_tree.branch_a, slug="other"))
    pages = ["/projects/", "/projects/yinling/", "/projects/other/", f"/activities/{other.pk}/"]
    for url in pages:
        Client().get(url)
    activity.place = "社区活动中心二楼"
    activity.save()
    assert not any(_cached(url) for url in pages)


def test_a_wish_drops_the_wall_only_when_it_is_or_was_on_it(org_tree, secretary_a, member_a):
    """A resident's submission (and the review before publication) changes no public page; a published wish, and a
    claim that takes it off, drop the whole wall and its community's, not another community's."""
    wish_category("助老")
    a, b = org_tree.community_a, org_tree.community_b
    walls = {"all": "/wishes/", "a": f"/wishes/?community={a.pk}", "b": f"/wishes/?community={b.pk}"}
    for url in walls.values():
        Client().get(url)

    wish = submit_wish(a)
    assert all(_cached(url) for url in walls.values()), "a submitted wish is on no wall"

    publish(wish, secretary_a)
    assert not _cached(walls["all"]) and not _cached(walls["a"])
    assert _cached(walls["b"])
    assert "修理水龙头" in Client().get(walls["a"]).content.decode()

    from demands import services as demand_services

    demand_services.wish_claim(wish=wish, member=member_a)
    assert not _cached(walls["all"]) and not _cached(walls["a"])
    assert _cached(walls["b"])
    assert "修理水龙头" not in Client().get(walls["a"]).content.decode()


# What the public pages show, by group: a model added to a page is added here and watched in its app's receivers.
SHOWN_ON_PUBLIC_PAGES = {
    "news": {"news.News"},
    "projects": {
        "projects.ProjectCategory",
        "projects.ServiceProject",
        "projects.Post",
        "projects.PostClaim",
        "projects.PostSkip",
        "projects.Activity",
        "projects.SignUp",
        "projects.ActivitySurvey",
    },
    # The wall shows the wishes and their categories, not their events or photos (a community renamed: the timeout).
    "wishes": {"demands.MicroWish", "demands.WishCategory"},
}


def test_every_model_the_public_pages_show_is_watched():
    from django.db.models.signals import post_delete, post_save

    for signal in (post_save, post_delete):
        watched: dict[str, set[str]] = {}
        for (uid, _sender_key), *_receiver in signal.receivers:
            if isinstance(uid, str) and uid.startswith("public_cache:"):
                label, group = uid.removeprefix("public_cache:").rsplit(":", 1)
                watched.setdefault(group, set()).add(label)
        assert {g: watched.get(g, set()) for g in SHOWN_ON_PUBLIC_PAGES} == SHOWN_ON_PUBLIC_PAGES


def test_changed_bumps_now_and_again_after_the_commit(django_capture_on_commit_callbacks):
    before = public_cache.current_versions([public_cache._version_key("projects")])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        public_cache.changed("projects")
    now = public_cache.current_versions([public_cache._version_key("projects")])
    assert now != before
    assert len(callbacks) == 1
    callbacks[0]()
    assert public_cache.current_versions([public_cache._version_key("projects")]) != now
    with pytest.raises(ValueError):
        public_cache.changed("nothing")


def test_signed_in_members_and_visitors_with_messages_are_not_served_from_the_cache(client, project, member_a):
    activity = ActivityFactory(project=project)
    url = f"/activities/{activity.pk}/"
    client.get(url)  # cached for anonymous visitors
    signed_in = Client()
    signed_in.force_login(member_a.user)
    # Rendered for the member (a template context exists), not taken from the anonymous copy.
    assert signed_in.get(url).context is not None
    assert Client().get(url).context is None
    # A page that adds a message (the skills filter for an anonymous visitor) is not stored.
    Client().get("/projects/?matches=on")
    queries, _sql = count_queries(lambda: Client().get("/projects/?matches=on"))
    assert queries > 0


def test_each_visitor_gets_a_csrf_token_of_their_own_that_passes(project):
    Client().get("/")  # fills the cache
    visitor = Client(enforce_csrf_checks=True)
    page = visitor.get("/")
    assert public_cache.PLACEHOLDER not in page.content.decode()
    token = TOKEN.search(page.content.decode()).group(1)
    cookie = visitor.cookies["csrftoken"].value
    assert _unmask_cipher_token(token) == cookie
    answer = visitor.post("/i18n/setlang/", {"language": "en", "next": "/", "csrfmiddlewaretoken": token})
    assert answer.status_code == 302


@pytest.fixture
def release_named(settings):
    """Set the deployed release (settings.RELEASE) as a deploy does; release() is read once per process."""

    def name(value):
        settings.RELEASE = value
        public_cache.release.cache_clear()

    yield name
    public_cache.release.cache_clear()


def test_a_page_cached_by_the_last_release_is_rendered_again_after_a_deploy(client, project, release_named):
    ActivityFactory(project=project)
    release_named("r1")
    client.get("/projects/")
    assert count_queries(lambda: Client().get("/projects/"))[0] == 0
    release_named("r2")  # the deploy: new templates may name static files the last release did not have
    assert count_queries(lambda: Client().get("/projects/"))[0] > 0
    assert count_queries(lambda: Client().get("/projects/"))[0] == 0


def test_without_a_named_release_the_code_and_templates_are_the_release(settings, tmp_path, release_named):
    (tmp_path / "app" / "templates").mkdir(parents=True)
    (tmp_path / "app" / "views.py").write_text("x = 1\n")
    page = tmp_path / "app" / "templates" / "page.html"
    page.write_text("<p>一</p>")
    (tmp_path / "static").mkdir()
    settings.BASE_DIR, settings.STATIC_ROOT = tmp_path, tmp_path / "collected"
    release_named("")
    first = public_cache.release()
    assert first == public_cache.release()
    (tmp_path / "static" / "site.css").write_text("p {}")  # sources of static files count through the manifest
    (tmp_path / "notes.md").write_text("not code")
    release_named("")
    assert public_cache.release() == first
    page.write_text("<p>二</p>")
    release_named("")
    second = public_cache.release()
    assert second != first
    (tmp_path / "collected").mkdir()
    (tmp_path / "collected" / "staticfiles.json").write_text('{"paths": {"site.css": "site.1a2b.css"}}')
    release_named("")
    assert public_cache.release() != second
