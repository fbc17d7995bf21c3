"""One small street with a real object behind every URL parameter, for the access table.

Branch A (东一支部) owns everything: a project with an activity and a post, member A's pending self-report, a
training session and material, a plan and its task, wishes in community A in several states (one fulfilled with a
photo, whose resident holds the tracking code and the feedback link), an offer, a household paired with member A, a
rating with an objection window, a commendation, a catalogue item and a redemption. Branch B has its secretary and
a member, and nothing of A's is theirs to see.
"""

import itertools
from datetime import date, time, timedelta
from decimal import Decimal
from types import SimpleNamespace

from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from audit import services as audit_services
from demands import services as demand_services
from incentives import services as incentive_services
from members import services as member_services
from members.models import Member, WeChatBinding
from members.services import national as national_exchange
from news import services as news_services
from notifications import services as notification_services
from notifications.models import Notification
from projects import services as project_services
from projects.models import Post
from tests.demands.factories import jpeg_upload, submit_wish, verify, wish_category
from tests.members.factories import CommunityFactory, GridFactory, MemberFactory, OrganizationFactory
from tests.personas import make_secretary
from tests.projects.factories import ActivityFactory, ProjectFactory
from tests.training.factories import CourseFactory, SessionFactory
from training import services as training_services
from training.models import CourseMaterial
from volunteer_platform.models import Plan, Report, Task

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
RESIDENT_PHONE = "13900001234"
_n = itertools.count(1)


def _published(community, secretary, **fields):
    wish = verify(submit_wish(community, **fields), secretary)
    return demand_services.wish_publish(wish=wish, actor=secretary)


def build_world(platform_admin):
    """Everything the access table's URLs point at; returns a namespace of the objects and personas."""
    from members.models import Organization

    street = OrganizationFactory(name="幸福街道党工委", type=Organization.Type.WORKING_COMMITTEE)
    east = OrganizationFactory(name="东社区党委", type=Organization.Type.COMMITTEE, parent=street)
    west = OrganizationFactory(name="西社区党委", type=Organization.Type.COMMITTEE, parent=street)
    branch_a = OrganizationFactory(name="东一支部", parent=east)
    branch_b = OrganizationFactory(name="西一支部", parent=west)
    community_a = CommunityFactory(name="东风村", organization=branch_a)
    CommunityFactory(name="西岭村", organization=branch_b)
    GridFactory(name="一网格", community=community_a)
    secretary_a = make_secretary(branch_a, "secretary_a", "王书记")
    secretary_b = make_secretary(branch_b, "secretary_b", "赵书记")
    member_a = MemberFactory(user__username="member_a", name="李明", organization=branch_a)
    member_b = MemberFactory(user__username="member_b", name="周红", organization=branch_b)
    category = wish_category("助老")

    # Wishes of community A: one waiting for review, one on the wall, one claimed, one fulfilled with a photo.
    submitted = submit_wish(community_a, category=category)
    published = _published(community_a, secretary_a, category=category)
    claimed = demand_services.wish_claim(wish=_published(community_a, secretary_a, category=category), member=member_a)
    fulfilled = demand_services.wish_claim(
        wish=_published(community_a, secretary_a, category=category, phone=RESIDENT_PHONE), member=member_a
    )
    start = timezone.now() - timedelta(hours=3)
    fulfilled = demand_services.wish_fulfil(
        wish=fulfilled,
        member=member_a,
        note="已上门更换了水龙头的阀芯。",
        start=start,
        end=start + timedelta(hours=2),
        hours=Decimal("1.5"),
        photos=[jpeg_upload()],
        site_url="http://testserver/",
    )
    link = Notification.objects.filter(template="demands_fulfilled", context__code=fulfilled.tracking_code).get()
    feedback_token = link.context["link"].rstrip("/").rsplit("/", 1)[1]
    photo = fulfilled.photos.get()
    offer = demand_services.offer_create(member=member_a, title="上门理发", category=category, community=community_a)
    household = demand_services.household_save(
        actor=secretary_a,
        community=community_a,
        contact_name="陈大爷",
        address="东风村3组12号",
        consent_processing=True,
        phone="13900005678",
    )
    pairing = demand_services.pairing_create(member=member_a, household=household, actor=secretary_a)

    # Projects: branch A's project with an activity (sign-up open) and a standing post.
    project = ProjectFactory(organization=branch_a, slug="yinling")
    activity = ActivityFactory(project=project)
    post = project_services.post_save(
        post=Post(project=project, title="周三下午陪伴", weekday=2, start_time=time(14), minutes=120, places=4)
    )
    calendar = project_services.calendar_feed_for(member=member_a)
    reported_from = timezone.now() - timedelta(days=3)
    self_report = project_services.self_report_submit(
        member=member_a,
        started_at=reported_from,
        ended_at=reported_from + timedelta(hours=2),
        hours=2,
        place="村委会",
        content="助餐",
    )

    # Training: branch A's session, a material of a platform course, member A's external record with evidence.
    session = SessionFactory(organizer=branch_a)
    material = training_services.course_material_save(
        material=CourseMaterial(course=CourseFactory(), title="学习讲义", file=SimpleUploadedFile("a.pdf", PDF)),
        actor=None,
    )
    record = training_services.external_training_record(
        member=member_a,
        course=CourseFactory(),
        hours=2,
        completed_on=timezone.localdate(),
        evidence=SimpleUploadedFile("证书.pdf", PDF),
        actor=None,
    )

    # Members: a confirmed service record of member A (they may ask for its correction).
    service_record = member_services.service_record_create(
        member=member_a,
        start=timezone.now() - timedelta(days=3, hours=2),
        end=timezone.now() - timedelta(days=3),
        hours=Decimal("2"),
        place="东风村",
        content="入户走访",
        source="manual",
        recording_organization=branch_a,
        organizer="王书记",
        recorder=secretary_a,
    )
    service_record = member_services.service_record_verify(record=service_record, verifier=secretary_a)

    # Incentives: a published rating of branch A (objection window open), a commendation, an item, a redemption.
    incentive_services.adjust(member=member_a, points=100, actor=platform_admin, reason="测试")
    run = incentive_services.rating_run_create(
        organization=branch_a, period_start=date(2024, 1, 1), period_end=date(2024, 12, 31), actor=None
    )
    incentive_services.rating_run_compute(run=run)
    incentive_services.rating_run_publish(run=run, actor=platform_admin)
    rating = run.ratings.get(member=member_a)
    commendation = incentive_services.commendation_nominate(
        member=member_a, title="优秀志愿者", citation="热心助老", actor=secretary_a
    )
    item = incentive_services.catalogue_item_create(
        name="理发", kind="service", points_cost=10, stock=5, organization=branch_a
    )
    redemption = incentive_services.redemption_request(member=member_a, item=item)

    # Members: member B registered at community A (双报到, waiting for A's confirmation); a newcomer's invitation.
    registration = member_services.residence_register(member=member_b, community=community_a, actor=None)
    newcomer = member_services.member_create(name="刘阳", phone="13912345678", organization=branch_a, actor=None)
    invitation = member_services.member_invite(member=newcomer, actor=secretary_a)
    # Member A signs in with WeChat (made as the bind service leaves it; that service needs an SMS code).
    wechat_binding = WeChatBinding.objects.create(user=member_a.user, app="open", openid="o-access-table-a")
    # Branch A's export to the national system (its service record and volunteers).
    national_batch = national_exchange.national_export_create(
        organization=branch_a, period_start=date(2000, 1, 1), period_end=date(2099, 12, 31), actor=secretary_a
    )

    # Dashboard: branch A's plan and a task of it.
    plan = Plan.objects.create(organization=branch_a, year=timezone.localdate().year, title="年度规划")
    task = Task.objects.create(
        plan=plan, title="建立助老服务队", assignee_organization=branch_a, due_on=date(2099, 1, 1)
    )

    # A ready annual report of branch A, asked for by its secretary (its files stand in for what Celery builds).
    report = Report(
        organization=branch_a,
        kind=Report.Kind.ANNUAL,
        year=timezone.localdate().year - 1,
        requested_by=secretary_a,
        status=Report.Status.READY,
        finished_at=timezone.now(),
    )
    report.docx.save("report.docx", ContentFile(b"PK\x03\x04 report"), save=False)
    report.pdf.save("report.pdf", ContentFile(PDF), save=False)
    report.save()

    # News: a 活动风采 of branch A with a photo, for its members only, written by A's secretary, approved by the admin.
    news = news_services.news_create(
        actor=secretary_a,
        organization=branch_a,
        kind="story",
        audience="subtree",
        title="东一支部义诊",
        body="为社区老人量血压。",
        photo=jpeg_upload(),
    )
    news_services.news_submit(news=news, actor=secretary_a)
    news = news_services.news_approve(news=news, actor=platform_admin)

    notification = Notification.objects.filter(recipient_user=member_a.user, channel="inapp").first() or (
        notification_services.notify(
            template="demands_rated",
            channel="inapp",
            user=member_a.user,
            dedupe_key=f"access-table:{next(_n)}",
            context={"title": "修理水龙头", "code": "X", "rating": 5, "link": "/wishes/"},
        )
    )

    api_token, _secret = audit_services.api_token_issue(user=member_a.user, device="小程序")

    return SimpleNamespace(
        api_token=api_token,
        branch_a=branch_a,
        branch_b=branch_b,
        community_a=community_a,
        secretary_a=secretary_a,
        secretary_b=secretary_b,
        member_a=Member.objects.get(pk=member_a.pk),
        member_b=member_b,
        admin=platform_admin,
        submitted=submitted,
        published=published,
        claimed=claimed,
        fulfilled=fulfilled,
        feedback_token=feedback_token,
        resident_phone=RESIDENT_PHONE,
        photo=photo,
        offer=offer,
        pairing=pairing,
        project=project,
        activity=activity,
        post=post,
        calendar=calendar,
        self_report=self_report,
        session=session,
        material=material,
        record=record,
        service_record=service_record,
        rating=rating,
        commendation=commendation,
        item=item,
        redemption=redemption,
        registration=registration,
        invitation=invitation,
        wechat_binding=wechat_binding,
        national_batch=national_batch,
        plan=plan,
        task=task,
        report=report,
        notification=notification,
        news=news,
    )
