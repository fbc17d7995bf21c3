"""Type aliases the services and selectors share, so a signature says who acts or who looks."""

from typing import TypeAlias

from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.models import User as _User

User: TypeAlias = _User
# Who performs a write: a signed-in user, or None when the system does it (a task, a seed, a migration).
Actor: TypeAlias = _User | None
# Who looks at a page: a request's user, signed in or not.
Viewer: TypeAlias = _User | AnonymousUser
