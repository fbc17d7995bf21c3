"""What follows the news rows (connected in apps.NewsConfig.ready).

- The public home page lists the newest public items: it is in the public page cache's group "news", which follows
  every save and deletion of an item (core/public_cache.py), and the kept list of the newest items
  (news.selectors.latest_public_news) is dropped with it — a change in the admin or the shell counts too.
- The member portal's page cache (core/member_cache.py): /me/ lists the newest items a member may read, and an item
  published or withdrawn may concern every member, so it drops everyone's kept pages. Drafts and items waiting for
  approval are shown on no portal page.
"""

from django.core.cache import cache
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from core import member_cache, public_cache

from . import selectors
from .models import News

public_cache.watch(News, "news")
member_cache.watch(News, everyone=True, when=lambda news: news.status in (News.Status.PUBLISHED, News.Status.WITHDRAWN))


def _drop_latest_public(sender, instance: News, **kwargs) -> None:
    """Now, and again after the commit (a request between the two would keep the old list)."""
    key = selectors.latest_public_news_key()
    cache.delete(key)
    transaction.on_commit(lambda: cache.delete(key))


post_save.connect(_drop_latest_public, sender=News, weak=False, dispatch_uid="news:latest-public")
post_delete.connect(_drop_latest_public, sender=News, weak=False, dispatch_uid="news:latest-public")
