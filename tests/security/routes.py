"""The project's routes as the URL resolver knows them, and how to sign in as each persona of the access table."""

from django.urls import URLPattern, URLResolver, get_resolver

from demands.models import MicroWish


def route_names(patterns=None, namespace: str = "") -> dict[str, str]:
    """{"namespace:name": route} for every named URL pattern (admin included, under "admin:")."""
    found: dict[str, str] = {}
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            for name, route in route_names(entry.url_patterns, inner).items():
                found[name] = str(entry.pattern) + route
        elif isinstance(entry, URLPattern):
            if entry.name is None and not namespace.startswith("admin:"):
                raise AssertionError(f"unnamed URL pattern {entry.pattern}: name it so the access table can list it")
            # The admin's unnamed patterns (its "<id>/" redirects) are listed by their route.
            found[f"{namespace}{entry.name or entry.pattern}"] = str(entry.pattern)
    return found


def sign_in(client, persona: str, world) -> None:
    """Make `client` act as `persona`. The resident holds no account: they opened their wish with its tracking
    code and the last four digits of their phone, which leaves the wish in their session."""
    if persona == "anon":
        return
    if persona == "resident":
        wish = MicroWish.objects.get(pk=world.fulfilled.pk)
        response = client.post("/wishes/track/", {"code": wish.tracking_code, "last4": world.resident_phone[-4:]})
        assert response.status_code == 302 and response.url.endswith("/wishes/track/status/"), response
        return
    user = getattr(world, persona)
    client.force_login(getattr(user, "user", user))
