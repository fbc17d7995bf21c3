"""The kinds of message a person can choose channels for (preferences), declared once for every app.

A kind is a category, not a template: every reminder of an activity, whatever its wording, is an
`activity_reminder`. The in-app inbox always receives every kind; email and SMS follow the person's
preference for the kind, or the kind's defaults below while they have not chosen.

`quiet` kinds are not urgent: their SMS waits for the end of the quiet hours (22:00–08:00) even for a member
with an account, while a reminder of something about to happen goes out at once. Residents' SMS always waits
(DESIGN.md, notifications).
"""

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

EMAIL = "email"
SMS = "sms"
OPTIONAL_CHANNELS = (EMAIL, SMS)  # in-app is always on


@dataclass(frozen=True)
class Kind:
    key: str
    label: Promise
    help_text: Promise
    default_channels: frozenset[str]
    quiet: bool = False


KINDS: dict[str, Kind] = {
    kind.key: kind
    for kind in (
        Kind(
            "activity_reminder",
            _("活动提醒"),
            _("报名的活动开始前的提醒、候补转正、活动变更或取消。"),
            frozenset({EMAIL, SMS}),
        ),
        Kind(
            "wish_update",
            _("微心愿进展"),
            _("认领的微心愿有新进展、邀请认领、到期提醒。"),
            frozenset({EMAIL, SMS}),
        ),
        Kind(
            "training",
            _("培训提醒"),
            _("报名参训的场次开始前的提醒、场次取消、年度学时不足提醒。"),
            frozenset({EMAIL, SMS}),
        ),
        Kind(
            "feedback",
            _("服务反馈"),
            _("参加活动后的简短问卷、群众对服务的评价。"),
            frozenset(),
            quiet=True,
        ),
        Kind(
            "points",
            _("积分与星级"),
            _("积分兑换进展、星级评定公示、表彰。"),
            frozenset({EMAIL}),
            quiet=True,
        ),
        Kind(
            "work",
            _("待办提醒（书记）"),
            _("待核实的微心愿、待答复的异议、待定级的评定等需要组织处理的事项。"),
            frozenset({EMAIL}),
            quiet=True,
        ),
        Kind(
            "notice",
            _("通知公告"),
            _("所在党组织书记发给全体党员的通知。"),
            frozenset({SMS}),
            quiet=True,
        ),
        Kind(
            "digest",
            _("工作简报（书记）"),
            _("每月工作简报、每季度双报到服务情况反馈。"),
            frozenset({EMAIL}),
            quiet=True,
        ),
    )
}

KIND_CHOICES = [(kind.key, kind.label) for kind in KINDS.values()]


def get_kind(key: str) -> Kind:
    """The kind named `key`; ValueError for an unknown one, so a typo fails in the caller."""
    try:
        return KINDS[key]
    except KeyError:
        raise ValueError(f"unknown notification kind: {key!r}") from None
