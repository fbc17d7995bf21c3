"""Reads of the news app. Who sees a news item:

- a public item (发布范围“公开”), once published: everyone, signed in or not;
- a subtree item, once published: the members whose home branch is in the publishing organization's subtree;
- any item, in any state, in the admin: the secretaries with scope over its organization (`visible_news`).

Every list is one query with its organization joined, whatever its length.
"""

from django.core.cache import cache
from django.db.models import F, Q, QuerySet, Value
from django.db.models.lookups import StartsWith

from core.types import Viewer
from members.models import Member, MemberStatus, Organization
from members.selectors import member_for, scoped, sees_nothing, visible_organizations

from .models import Broadcast, News

HOME_LIMIT = 3
LATEST_PUBLIC_SECONDS = 300
PORTAL_LIMIT = 5
PAGE_SIZE = 10

# Who a broadcast reaches: the members still in the organization's care (在册, and 免除 who serve no more but still
# belong), with an active account.
BROADCAST_STATUSES = (MemberStatus.ACTIVE, MemberStatus.EXEMPT)


def _published() -> QuerySet[News]:
    return (
        News.objects.filter(status=News.Status.PUBLISHED)
        .select_related("organization")
        .order_by("-published_at", "-pk")
    )


def public_news() -> QuerySet[News]:
    """Published public items, newest first (served by `news_published_idx`)."""
    return _published().filter(audience=News.Audience.PUBLIC)


def _readable_by(member: Member | None) -> Q:
    """Public items, and for a member the subtree items of an organization whose subtree holds their home branch
    (its path is a prefix of the branch's path)."""
    condition = Q(audience=News.Audience.PUBLIC)
    if member is not None:
        condition |= Q(audience=News.Audience.SUBTREE) & Q(
            StartsWith(Value(member.organization.path), F("organization__path"))
        )
    return condition


def news_for_member(member: Member | None) -> QuerySet[News]:
    """What `member` may read (`_readable_by`), newest first; without a member, the public items."""
    return _published().filter(_readable_by(member))


def news_for_viewer(user: Viewer) -> QuerySet[News]:
    """The /news/ list of whoever looks: what their member record may read (one query to find it), and for a
    secretary or platform admin also what is published in their scope (a subquery, no further query)."""
    condition = _readable_by(member_for(user))
    if not sees_nothing(user) and user.is_staff:
        condition |= Q(organization__in=visible_organizations(user))
    return _published().filter(condition)


def latest_public_news_key(limit: int = HOME_LIMIT) -> str:
    return f"news:latest-public:{limit}"


def latest_public_news(limit: int = HOME_LIMIT) -> list[News]:
    """The home page's newest public items: one query on a miss, none while kept in the shared cache (5 minutes, or
    until news.services publishes or withdraws a public item), so the home page stays cheap for everyone."""
    key = latest_public_news_key(limit)
    items: list[News] | None = cache.get(key)
    if items is None:
        items = list(public_news()[:limit])
        cache.set(key, items, LATEST_PUBLIC_SECONDS)
    return items


def latest_news_for_member(member: Member | None, limit: int = PORTAL_LIMIT) -> list[News]:
    """The newest items on a member's own page /me/ (one query)."""
    return list(news_for_member(member)[:limit])


def news_item(user: Viewer, pk: int) -> News | None:
    """One published item `user` may read, or None (missing and not for them look the same: a 404)."""
    return news_for_viewer(user).filter(pk=pk).first()


def visible_news(user: Viewer, *, queryset: QuerySet[News] | None = None) -> QuerySet[News]:
    """Items of organizations in `user`'s scope, in every state (the admin's rows)."""
    return scoped(News.objects.all() if queryset is None else queryset, user, "organization")


def can_approve(user: Viewer, news: News) -> bool:
    """Whether `user` may approve, return or withdraw `news`: a platform admin, or whoever administers its
    organization or one above it. Being its author is checked apart (the two-secretary rule)."""
    if sees_nothing(user):
        return False
    return bool(user.is_superuser) or visible_organizations(user).filter(pk=news.organization_id).exists()


def visible_broadcasts(user: Viewer, *, queryset: QuerySet[Broadcast] | None = None) -> QuerySet[Broadcast]:
    return scoped(Broadcast.objects.all() if queryset is None else queryset, user, "organization")


def broadcast_organizations(user: Viewer) -> QuerySet[Organization]:
    """The organizations `user` may message (their scope), tree order."""
    return visible_organizations(user).order_by("path")


def broadcast_recipients(organization: Organization) -> QuerySet[Member]:
    """The members a broadcast of `organization` reaches: home branch in its subtree, 在册 or 免除, active account."""
    return Member.objects.filter(
        organization__path__startswith=organization.path,
        status__in=BROADCAST_STATUSES,
        user__is_active=True,
    )


def broadcast_recipient_count(organization: Organization) -> int:
    """The "将发送给 N 名党员" figure shown before sending (one query)."""
    return broadcast_recipients(organization).count()
