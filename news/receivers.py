"""The member portal's page cache follows the news (core/member_cache.py): /me/ lists the newest items a member may
read, and an item published or withdrawn may concern every member, so it drops everyone's cached pages. Drafts and
items waiting for approval are shown on no portal page."""

from core import member_cache

from .models import News

member_cache.watch(News, everyone=True, when=lambda news: news.status in (News.Status.PUBLISHED, News.Status.WITHDRAWN))
