"""The demo seed shows a newcomer news: on the home page, on 我的主页 of the demo member, and one item waiting for
the community secretary's approval; running it twice adds nothing."""

import pytest

from members.models import Member
from news import selectors
from news.models import News
from volunteer_platform import demo

pytestmark = pytest.mark.django_db


def test_the_demo_has_news_for_the_home_page_the_member_and_the_approval_queue(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    demo.seed(members=20)
    demo.seed(members=20)

    assert News.objects.filter(status=News.Status.PUBLISHED).count() == 3
    pending = News.objects.get(status=News.Status.PENDING)
    assert pending.author.username == "zhibu"
    assert all(n.approved_by_id != n.author_id for n in News.objects.filter(status=News.Status.PUBLISHED))

    home = selectors.latest_public_news()
    assert len(home) == 2 and any(n.photo for n in home)
    member = Member.objects.select_related("organization").get(user__username="dangyuan")
    assert {n.title for n in selectors.latest_news_for_member(member)} == {
        *(n.title for n in home),
        "本周六主题党日活动安排",
    }
