"""Demo data of the news app, called by the site's `seed_demo` after the members' demo data: a newcomer finds
通知公告 and 活动风采 on the home page and on 我的主页, and one item waiting for approval in the admin.

The branch secretary (zhibu) writes, the community secretary (shequ) approves — two people, as the rule wants; the
community's own notice is approved by the platform admin. Idempotent: an item is found by its organization and title.
Without the demo secretaries nothing is added.
"""

from io import BytesIO

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction
from PIL import Image, ImageDraw

from members.models import Organization

from . import services
from .models import News


def _photo() -> SimpleUploadedFile:
    """A drawn picture (sky, a red banner, a path), so the demo needs no file of its own."""
    image = Image.new("RGB", (960, 540), (214, 234, 248))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 380, 960, 540), fill=(120, 170, 90))
    draw.rectangle((280, 120, 680, 220), fill=(200, 30, 40))
    draw.polygon([(430, 540), (530, 540), (500, 380), (460, 380)], fill=(190, 170, 140))
    buffer = BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return SimpleUploadedFile("demo.jpg", buffer.getvalue(), content_type="image/jpeg")


ITEMS = [
    # (writer, organization of, approver, kind, audience, title, body, photo)
    (
        "zhibu",
        "zhibu",
        "shequ",
        News.Kind.STORY,
        News.Audience.PUBLIC,
        "重阳节走访慰问空巢老人",
        "重阳节当天，第一党支部12名党员分成4个小组，走访辖区38户空巢老人，送去慰问品，帮助打扫卫生、检查水电，"
        "并为行动不便的老人量血压、理发。\n\n活动结束后，支部把老人们提出的7条微心愿录入平台，由党员认领。",
        True,
    ),
    (
        "shequ",
        "shequ",
        "admin",
        News.Kind.NOTICE,
        News.Audience.PUBLIC,
        "关于开展“微心愿”集中认领活动的通知",
        "本月最后一周为“微心愿”集中认领周。请各支部组织党员登录平台，在心愿墙认领群众的微心愿，"
        "认领后按约定时间完成，并上传服务照片。居民可继续通过平台提交微心愿。",
        False,
    ),
    (
        "zhibu",
        "zhibu",
        "shequ",
        News.Kind.NOTICE,
        News.Audience.SUBTREE,
        "本周六主题党日活动安排",
        "本周六上午9:00在社区党群服务中心开展主题党日活动：学习《志愿服务条例》，随后分组开展楼道清扫。"
        "请支部全体党员准时参加，不能参加的向支部书记请假。",
        False,
    ),
]
PENDING = (
    "zhibu",
    "zhibu",
    News.Kind.NOTICE,
    News.Audience.SUBTREE,
    "十二月志愿服务积分公示提醒",
    "本月积分明细已更新，请党员登录“我的积分”核对。",
)


@transaction.atomic
def seed(*, stdout=None) -> None:
    User = get_user_model()
    users = {u.username: u for u in User.objects.filter(username__in=["admin", "shequ", "zhibu"])}
    if not {"shequ", "zhibu"} <= set(users):
        return
    organizations: dict[str, Organization] = {}
    for name in ("shequ", "zhibu"):
        organization = Organization.objects.filter(secretary__user=users[name]).order_by("path").first()
        if organization is None:
            return
        organizations[name] = organization
    added = 0
    for writer, of, approver, kind, audience, title, body, photo in ITEMS:
        organization = organizations[of]
        if News.objects.filter(organization=organization, title=title).exists() or approver not in users:
            continue
        news = services.news_create(
            actor=users[writer],
            organization=organization,
            kind=kind,
            audience=audience,
            title=title,
            body=body,
            photo=_photo() if photo else None,
            photo_caption="党员为老人检查水电" if photo else "",
        )
        services.news_submit(news=news, actor=users[writer])
        services.news_approve(news=news, actor=users[approver])
        added += 1
    writer, of, kind, audience, title, body = PENDING
    if not News.objects.filter(organization=organizations[of], title=title).exists():
        news = services.news_create(
            actor=users[writer], organization=organizations[of], kind=kind, audience=audience, title=title, body=body
        )
        services.news_submit(news=news, actor=users[writer])  # waits for shequ in the admin
        added += 1
    if stdout:
        stdout.write(f"news: {added} items added ({News.objects.count()} in all)")
