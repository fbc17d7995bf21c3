"""Every periodic task of the platform, in one list (DESIGN.md, "Celery": scheduled work).

The schedules live in the database (django-celery-beat), where a platform admin may change, pause or delete them
in the admin. `manage.py sync_schedules` creates the entries of this list that are missing — by name, never
touching an existing one, so an admin's edits survive every deployment — and skips an entry whose task is not
registered yet (an app that has not written its tasks.py), so the list may name tasks before they exist.

A task named here is a planner or a sweep: it selects what is due and is idempotent (dedupe keys), so running it
late, twice, or by hand never sends a message twice. Times are local (settings.TIME_ZONE).
"""

import json
from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask


@dataclass(frozen=True)
class Schedule:
    name: str  # the PeriodicTask's unique name: the key of the sync, never renamed
    task: str
    description: str  # shown in the admin, in Chinese (stored data, not a translatable string)
    every_seconds: int | None = None
    crontab: dict[str, str] | None = None  # minute, hour, day_of_month, month_of_year, day_of_week ("*" when absent)
    kwargs: dict = field(default_factory=dict)

    def __post_init__(self):
        if (self.every_seconds is None) == (self.crontab is None):
            raise ValueError(f"{self.name}: give exactly one of every_seconds and crontab")


SCHEDULES: list[Schedule] = [
    # --- notifications ---
    Schedule(
        name="outbox sweeper",  # created first by notifications/migrations/0002; same name, so never duplicated
        task="notifications.tasks.sweep_outbox",
        every_seconds=60,
        description="重新派发仍待发送的通知（消息队列中断后不丢消息）",
    ),
    # --- projects (reserved: projects/tasks.py provides these) ---
    Schedule(
        name="activity reminders T-24h",
        task="projects.tasks.plan_activity_reminders",
        crontab={"minute": "*/10"},
        kwargs={"hours_before": 24},
        description="活动开始前24小时提醒已报名的党员（每10分钟检查一次，每人每场只提醒一次）",
    ),
    Schedule(
        name="activity reminders T-2h",
        task="projects.tasks.plan_activity_reminders",
        crontab={"minute": "*/10"},
        kwargs={"hours_before": 2},
        description="活动开始前2小时提醒已报名的党员（每10分钟检查一次，每人每场只提醒一次）",
    ),
    Schedule(
        name="waitlist promotion notices",
        task="projects.tasks.promote_waitlists",
        crontab={"minute": "*/10"},
        description="有空余名额时按顺序为候补党员转正并通知本人",
    ),
    Schedule(
        name="activity surveys",
        task="projects.tasks.plan_activity_surveys",
        crontab={"minute": "20"},
        description="活动结束后向已到的党员发送简短问卷（每小时一次，每人每场一次）",
    ),
    Schedule(
        name="recurring activity generation",
        task="projects.tasks.generate_recurring_activities",
        crontab={"minute": "30", "hour": "2"},
        description="按周期为常态化服务项目提前生成活动，并为认领岗位的党员报名",
    ),
    # --- training ---
    Schedule(
        name="training session reminders T-24h",
        task="training.tasks.plan_session_reminders",
        crontab={"minute": "*/15"},
        description="培训场次开始前24小时提醒已报名的党员（每15分钟检查一次，每人每场只提醒一次）",
    ),
    Schedule(
        name="annual training shortfall",
        task="training.tasks.plan_training_shortfall",
        crontab={"minute": "0", "hour": "9", "day_of_month": "1", "month_of_year": "10-12"},
        description="10月起每月1日提醒年度培训学时未达标的党员",
    ),
    # --- demands (reserved: demands/tasks.py provides these) ---
    Schedule(
        name="wish escalations",
        task="demands.tasks.escalate_wishes",
        crontab={"minute": "5"},
        description="微心愿督办：超过48小时未核实告知社区书记；过认领截止日期无人认领告知网格长和书记；"
        "认领7天未实现提醒认领人，14天告知书记",
    ),
    Schedule(
        name="wish feedback reminders and auto-close",
        task="demands.tasks.process_wish_feedback",
        crontab={"minute": "35"},
        description="群众评价：实现3天后未评价发送一次提醒，14天后自动关闭为“已实现未确认”",
    ),
    Schedule(
        name="resident data retention purge",
        task="demands.tasks.purge_resident_contacts",
        crontab={"minute": "15", "hour": "3"},
        description="清除超过保存期限的群众联系方式等个人信息",
    ),
    # --- incentives ---
    Schedule(
        name="star rating drafts",
        task="incentives.tasks.recompute_draft_ratings",
        crontab={"minute": "0", "hour": "2"},
        description="每晚按新确认的服务时长和积分重新计算草稿状态的星级评定",
    ),
    Schedule(
        name="star rating publicity notices",
        task="incentives.tasks.plan_publicity_notices",
        crontab={"minute": "0", "hour": "9"},
        description="星级评定公示最后一天提醒党员可提出异议；公示结束后提醒组织答复异议并定级",
    ),
    # --- members ---
    Schedule(
        name="monthly digest",
        task="volunteer_platform.tasks.plan_monthly_digest",
        crontab={"minute": "30", "hour": "8", "day_of_month": "1"},
        description="每月1日向各组织书记和管理员发送上月工作简报（本组织及下级组织的数据）",
    ),
    Schedule(
        name="quarterly residence service cards",
        task="members.tasks.plan_service_cards",
        crontab={"minute": "0", "hour": "9", "day_of_month": "1", "month_of_year": "1,4,7,10"},
        description="每季度首日向在职党员所在支部反馈其上季度在居住社区的双报到服务情况",
    ),
    Schedule(
        name="service summary rebuild",
        task="members.tasks.rebuild_service_years",
        crontab={"minute": "30", "hour": "3"},
        description="每晚按服务记录重建今年和去年的年度服务汇总（工作台统计用；平时随记录的确认、更正、作废同步更新）",
    ),
    # --- audit ---
    Schedule(
        name="audit trail retention purge",
        task="audit.tasks.purge_audit_events",
        crontab={"minute": "45", "hour": "3"},
        description="删除超过保存期限（AUDIT_RETENTION_DAYS，默认365天）的审计记录和后台操作日志",
    ),
    # --- site ---
    Schedule(
        name="dashboard snapshots",
        task="volunteer_platform.tasks.refresh_dashboard_snapshots",
        crontab={"minute": "*/10"},
        description="每10分钟为党员人数多的组织（街道、区）预先计算工作台的本年数据，打开工作台时直接显示",
    ),
    Schedule(
        name="weekly reconciliation",
        task="volunteer_platform.tasks.reconcile_weekly",
        crontab={"minute": "30", "hour": "3", "day_of_week": "1"},
        description="每周一凌晨按服务记录和积分明细重新核对时长、积分、星级和工作台数据，发现不一致时通知平台管理员",
    ),
]


@dataclass
class SyncReport:
    created: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)  # already there: left exactly as the admin has it
    skipped: list[str] = field(default_factory=list)  # task not registered yet


def _schedule_objects(schedule: Schedule) -> dict:
    if schedule.every_seconds is not None:
        interval, _ = IntervalSchedule.objects.get_or_create(
            every=schedule.every_seconds, period=IntervalSchedule.SECONDS
        )
        return {"interval": interval}
    fields = {
        key: (schedule.crontab or {}).get(key, "*")
        for key in ("minute", "hour", "day_of_month", "month_of_year", "day_of_week")
    }
    # Not unique in the table: several equal rows may exist (the admin can add them), so take the first.
    crontab = CrontabSchedule.objects.filter(**fields, timezone=settings.TIME_ZONE).order_by("pk").first()
    if crontab is None:
        crontab = CrontabSchedule.objects.create(**fields, timezone=settings.TIME_ZONE)
    return {"crontab": crontab}


@transaction.atomic
def sync_schedules(schedules: list[Schedule] | None = None, *, registered: set[str] | None = None) -> SyncReport:
    """Create the PeriodicTask of each schedule that has none of its name; return what was done.

    An existing task of the same name is kept as it is (schedule, arguments, enabled — an admin's edits win). A
    schedule whose task is not in `registered` (default: the Celery app's tasks after autodiscovery) is skipped.
    Safe to run at every start: a second run creates nothing.
    """
    if registered is None:
        registered = registered_tasks()
    report = SyncReport()
    for schedule in SCHEDULES if schedules is None else schedules:
        if PeriodicTask.objects.filter(name=schedule.name).exists():
            report.kept.append(schedule.name)
            continue
        if schedule.task not in registered:
            report.skipped.append(schedule.name)
            continue
        _task, created = PeriodicTask.objects.get_or_create(
            name=schedule.name,
            defaults={
                "task": schedule.task,
                "kwargs": json.dumps(schedule.kwargs),
                "description": schedule.description,
                "enabled": True,
                **_schedule_objects(schedule),
            },
        )
        (report.created if created else report.kept).append(schedule.name)
    return report


def registered_tasks() -> set[str]:
    """The names of the tasks the Celery app knows, after importing every installed app's tasks.py."""
    from volunteer_platform.celery import app

    app.loader.import_default_modules()
    return set(app.tasks)
