"""The incentives admin: every page × every persona (out of scope → 404), the read-only ledger, and the actions
secretaries work with (adjust, approve/fulfil/cancel redemptions, compute/publish/finalize ratings, answer
objections, nominate/approve commendations)."""

from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.urls import reverse
from django.utils import timezone

from incentives import services
from incentives.models import (
    CatalogueItem,
    Commendation,
    LedgerEntry,
    Objection,
    PointsBalance,
    RatingRun,
    Redemption,
    Rule,
    StarScheme,
)
from tests.incentives.conftest import add_hours, fund, make_item
from tests.queries import assert_constant_queries_of

pytestmark = pytest.mark.django_db

PERSONAS = ("platform_admin", "secretary_a", "secretary_b", "staff_without_scope", "member", "anonymous")


def _side(member, branch, secretary_user, actor_admin):
    """One object of every kind on one branch's side."""
    entry = fund(member, 200)
    redemption = services.redemption_request(member=member, item=make_item(points_cost=10))
    run = services.rating_run_create(
        organization=branch, period_start=date(2024, 1, 1), period_end=date(2024, 12, 31), actor=None
    )
    services.rating_run_compute(run=run)
    services.rating_run_publish(run=run, actor=actor_admin)
    rating = run.ratings.get(member=member)
    return {
        "ledgerentry": entry,
        "pointsbalance": PointsBalance.objects.get(member=member),
        "catalogueitem": make_item(organization=branch),
        "redemption": redemption,
        "starscheme": services.star_scheme_save(
            organization=branch, basis="hours", thresholds=[1, 2, 3, 4, 5], publicity_days=5
        ),
        "ratingrun": run,
        "starrating": rating,
        "objection": services.objection_file(rating=rating, member=member, text="有异议"),
        "commendation": services.commendation_nominate(
            member=member, title="优秀志愿者", citation="事迹", actor=secretary_user
        ),
    }


@pytest.fixture
def scene(org_tree, platform_admin, secretary_a, secretary_b, member_a, member_b):
    return SimpleNamespace(
        a=_side(member_a, org_tree.branch_a, secretary_a, platform_admin),
        b=_side(member_b, org_tree.branch_b, secretary_b, platform_admin),
        shared={"rule": Rule.objects.get(code="service_hour"), "catalogueitem": make_item(name="全平台项目")},
    )


def _client_for(persona, request, client):
    if persona == "anonymous":
        return client
    persona = "member_a" if persona == "member" else persona
    user = request.getfixturevalue(persona)
    client.force_login(getattr(user, "user", user))
    return client


def _expected(persona: str, side: str | None) -> int:
    """The status of a GET of a changelist (side None) or of one object's page."""
    if persona in ("member", "anonymous"):
        return 302  # not staff: the admin's sign-in page
    if persona == "platform_admin":
        return 200
    if persona == "staff_without_scope":
        return 403 if side in (None, "shared") else 404
    own = persona[-1]
    return 404 if side not in (None, "shared", own) else 200


MODELS = (
    "rule",
    "ledgerentry",
    "pointsbalance",
    "catalogueitem",
    "redemption",
    "starscheme",
    "ratingrun",
    "starrating",
    "objection",
    "commendation",
)


@pytest.mark.parametrize("persona", PERSONAS)
def test_permission_table(persona, scene, request, client):
    client = _client_for(persona, request, client)
    wrong = []
    for model in MODELS:
        pages = [(reverse(f"admin:incentives_{model}_changelist"), None)]
        for side in ("a", "b", "shared"):
            obj = getattr(scene, side).get(model)
            if obj is not None:
                pages.append((reverse(f"admin:incentives_{model}_change", args=[obj.pk]), side))
        for url, side in pages:
            status = client.get(url).status_code
            if status != _expected(persona, side):
                wrong.append(f"{model} {side or 'list'}: {status}, expected {_expected(persona, side)}")
    assert not wrong, f"{persona}:\n" + "\n".join(wrong)


def test_out_of_scope_deletes_and_posts_answer_404(scene, secretary_a, client):
    client.force_login(secretary_a)
    for model in ("ledgerentry", "catalogueitem", "starscheme", "ratingrun", "commendation", "objection"):
        obj = scene.b[model]
        assert client.get(reverse(f"admin:incentives_{model}_delete", args=[obj.pk])).status_code == 404, model
        assert client.post(reverse(f"admin:incentives_{model}_change", args=[obj.pk]), {}).status_code == 404, model


# --- The ledger is read-only --------------------------------------------------------------------------------------


def test_not_even_a_platform_admin_changes_or_deletes_an_entry(scene, platform_admin, client):
    entry = scene.a["ledgerentry"]
    client.force_login(platform_admin)
    change = reverse("admin:incentives_ledgerentry_change", args=[entry.pk])
    delete = reverse("admin:incentives_ledgerentry_delete", args=[entry.pk])

    assert client.get(change).status_code == 200  # view only
    assert client.post(change, {"points": 9999, "note": "改"}).status_code == 403
    assert client.get(delete).status_code == 403
    assert client.post(delete, {"post": "yes"}).status_code == 403
    assert client.get(reverse("admin:incentives_ledgerentry_add")).status_code == 403
    response = client.post(
        reverse("admin:incentives_ledgerentry_changelist"),
        {"action": "delete_selected", ACTION_CHECKBOX_NAME: [entry.pk], "post": "yes"},
    )
    assert response.status_code in (200, 302)  # "no such action": nothing happens
    entry.refresh_from_db()
    assert entry.points == 200
    assert LedgerEntry.objects.filter(pk=entry.pk).exists()


def test_balances_and_rules_are_read_only_for_secretaries(scene, secretary_a, platform_admin, client):
    client.force_login(secretary_a)
    balance = scene.a["pointsbalance"]
    assert client.post(reverse("admin:incentives_pointsbalance_change", args=[balance.pk]), {}).status_code == 403
    rule = scene.shared["rule"]
    url = reverse("admin:incentives_rule_change", args=[rule.pk])
    assert client.post(url, {"points": 999, "leader_multiplier": "1.5"}).status_code == 403

    client.force_login(platform_admin)
    response = client.post(url, {"points": 12, "cap_per_source": 120, "leader_multiplier": "2", "active": "on"})
    assert response.status_code == 302
    rule.refresh_from_db()
    assert (rule.points, rule.cap_per_source, rule.leader_multiplier) == (12, 120, 2)
    assert rule.history.latest().history_user == platform_admin


def test_a_secretary_reverses_an_entry_with_a_reason(scene, member_a, secretary_a, client):
    entry = fund(member_a, 50)
    client.force_login(secretary_a)
    url = reverse("admin:incentives_ledgerentry_changelist")
    data = {"action": "reverse_selected", ACTION_CHECKBOX_NAME: [entry.pk]}
    assert "冲正原因" in client.post(url, data).content.decode()  # asks for the reason first

    client.post(url, {**data, "apply": "1", "reason": "登记错误"})

    reversal = LedgerEntry.objects.get(reverses=entry)
    assert (reversal.points, reversal.actor, reversal.note) == (-50, secretary_a, "登记错误")


def test_a_refused_reversal_changes_nothing_and_says_why(scene, secretary_a, client):
    hold = scene.a["redemption"].spend_entry
    client.force_login(secretary_a)
    response = client.post(
        reverse("admin:incentives_ledgerentry_changelist"),
        {"action": "reverse_selected", ACTION_CHECKBOX_NAME: [hold.pk], "apply": "1", "reason": "退"},
        follow=True,
    )
    assert "取消兑换" in response.content.decode()
    assert not LedgerEntry.objects.filter(reverses=hold).exists()


# --- Manual adjustment ------------------------------------------------------------------------------------------


def test_manual_adjustment_page(scene, member_a, member_b, secretary_a, client):
    client.force_login(secretary_a)
    url = reverse("admin:incentives_pointsbalance_adjust")
    response = client.get(url, {"member": member_a.pk})
    assert response.status_code == 200
    token = response.context["form"].initial["token"]
    data = {"member": member_a.pk, "points": 30, "reason": "补录重阳节活动", "token": token}

    response = client.post(url, data, follow=True)
    statement = response.context["cl"].result_list  # the redirect shows the member's statement
    assert {entry.member for entry in statement} == {member_a} and statement[0].kind == "adjustment"
    client.post(url, data)  # the same form again (double submit)

    entry = LedgerEntry.objects.get(member=member_a, kind="adjustment")
    assert (entry.points, entry.actor, entry.note) == (30, secretary_a, "补录重阳节活动")

    response = client.post(url, {**data, "token": "t2", "reason": ""})
    assert response.status_code == 200 and LedgerEntry.objects.filter(kind="adjustment").count() == 1
    response = client.post(url, {**data, "token": "t3", "member": member_b.pk})  # not a choice for branch A
    assert response.status_code == 200 and not LedgerEntry.objects.filter(member=member_b, kind="adjustment")
    response = client.post(url, {**data, "token": "t4", "points": -1000})
    assert "余额将为负数" in response.content.decode()
    assert client.get(url, {"member": member_b.pk}).status_code == 404


def test_the_adjustment_page_needs_a_scope(staff_without_scope, member_a, client):
    client.force_login(member_a.user)
    assert client.get(reverse("admin:incentives_pointsbalance_adjust")).status_code == 302
    client.force_login(staff_without_scope)
    assert client.get(reverse("admin:incentives_pointsbalance_adjust")).status_code == 403


# --- Redemptions ------------------------------------------------------------------------------------------------


def _action(client, model, action, objs, **extra):
    return client.post(
        reverse(f"admin:incentives_{model}_changelist"),
        {"action": action, ACTION_CHECKBOX_NAME: [o.pk for o in objs], **extra},
        follow=True,
    )


def test_secretary_approves_fulfils_and_cancels_redemptions(scene, member_a, secretary_a, client):
    client.force_login(secretary_a)
    redemption = scene.a["redemption"]

    _action(client, "redemption", "approve_selected", [redemption])
    redemption.refresh_from_db()
    assert redemption.status == "approved" and redemption.pickup_code
    response = client.get(reverse("admin:incentives_redemption_changelist"), {"q": redemption.pickup_code.lower()})
    assert list(response.context["cl"].result_list) == [redemption]

    _action(client, "redemption", "fulfil_selected", [redemption])
    redemption.refresh_from_db()
    assert redemption.status == "fulfilled"

    fund(member_a, 100)
    other = services.redemption_request(member=member_a, item=make_item(points_cost=30))
    before = PointsBalance.objects.get(member=member_a).balance
    assert "取消原因" in _action(client, "redemption", "cancel_selected", [other]).content.decode()
    _action(client, "redemption", "cancel_selected", [other], apply="1", reason="库存登记有误")
    other.refresh_from_db()
    assert (other.status, other.cancel_reason) == ("cancelled", "库存登记有误")
    assert PointsBalance.objects.get(member=member_a).balance == before + 30


def test_a_bulk_action_on_a_mix_is_all_or_nothing(scene, member_a, secretary_a, client):
    client.force_login(secretary_a)
    done = scene.a["redemption"]
    services.redemption_approve(redemption=done, actor=secretary_a)
    fund(member_a, 100)
    waiting = services.redemption_request(member=member_a, item=make_item(points_cost=10))

    response = _action(client, "redemption", "approve_selected", [done, waiting])

    assert "没有做任何更改" in response.content.decode()
    waiting.refresh_from_db()
    assert waiting.status == "requested"


# --- Catalogue --------------------------------------------------------------------------------------------------


def test_secretary_adds_an_item_for_their_branch_only(scene, secretary_a, org_tree, client):
    client.force_login(secretary_a)
    url = reverse("admin:incentives_catalogueitem_add")
    data = {"kind": "service", "name": "修自行车", "points_cost": 20, "stock": 5, "per_member_limit": 1}
    data["min_star_level"] = 0
    response = client.post(url, {**data, "organization": org_tree.branch_b.pk, "active": "on"})
    assert response.status_code == 200  # branch B is not a choice
    response = client.post(url, {**data})
    assert response.status_code == 200  # a secretary's item belongs to one of their organizations
    response = client.post(url, {**data, "organization": org_tree.branch_a.pk, "active": "on"})
    assert response.status_code == 302
    item = CatalogueItem.objects.get(name="修自行车")
    assert (item.organization, item.stock) == (org_tree.branch_a, 5)

    response = client.post(url, {**data, "name": "政策优惠", "kind": "benefit", "organization": org_tree.branch_a.pk})
    assert "最低星级" in response.content.decode()


def test_stock_changes_only_by_restocking(scene, secretary_a, client):
    item = scene.a["catalogueitem"]
    client.force_login(secretary_a)
    change = reverse("admin:incentives_catalogueitem_change", args=[item.pk])
    data = {
        "kind": "service",
        "name": item.name,
        "points_cost": 99,
        "stock": 1000,
        "per_member_limit": 1,
        "min_star_level": 0,
        "organization": item.organization_id,
        "active": "on",
    }
    assert client.post(change, data).status_code == 302
    item.refresh_from_db()
    assert (item.points_cost, item.stock) == (99, 10)  # stock is read-only on the form

    _action(client, "catalogueitem", "restock_selected", [item], apply="1", quantity=5)
    item.refresh_from_db()
    assert item.stock == 15


def test_platform_wide_items_are_read_only_for_secretaries(scene, secretary_a, client):
    shared = scene.shared["catalogueitem"]
    client.force_login(secretary_a)
    assert client.post(reverse("admin:incentives_catalogueitem_change", args=[shared.pk]), {}).status_code == 403
    response = _action(client, "catalogueitem", "restock_selected", [shared], apply="1", quantity=5)
    assert "平台管理员" in response.content.decode()
    shared.refresh_from_db()
    assert shared.stock == 10


# --- Star ratings -----------------------------------------------------------------------------------------------


def test_a_rating_run_from_the_admin(org_tree, member_a, secretary_a, platform_admin, client):
    add_hours(member_a, 320, day=date(2023, 6, 1), verifier=platform_admin)
    client.force_login(secretary_a)
    response = client.post(
        reverse("admin:incentives_ratingrun_add"),
        {"organization": org_tree.branch_a.pk, "period_start": "2023-01-01", "period_end": "2023-12-31"},
    )
    assert response.status_code == 302
    run = RatingRun.objects.get()

    _action(client, "ratingrun", "compute_selected", [run])
    assert run.ratings.get(member=member_a).stars == 2
    response = client.get(reverse("admin:incentives_starrating_changelist"), {"run__id__exact": run.pk})
    assert {rating.run_id for rating in response.context["cl"].result_list} == {run.pk}
    _action(client, "ratingrun", "publish_selected", [run])
    run.refresh_from_db()
    assert run.status == "publicity"
    response = _action(client, "ratingrun", "finalize_selected", [run])
    assert "之后才能定级" in response.content.decode()
    RatingRun.objects.filter(pk=run.pk).update(publicity_ends_on=timezone.localdate() - timedelta(days=1))
    _action(client, "ratingrun", "finalize_selected", [run])
    run.refresh_from_db()
    assert run.status == "final"

    response = client.post(
        reverse("admin:incentives_ratingrun_add"),
        {"organization": org_tree.branch_a.pk, "period_start": "2023-01-01", "period_end": "2023-12-31"},
    )
    assert response.status_code == 200 and RatingRun.objects.count() == 1  # one run per period


def test_secretary_answers_an_objection_and_changes_the_stars(scene, member_a, secretary_a, client):
    objection = scene.a["objection"]
    client.force_login(secretary_a)
    url = reverse("admin:incentives_objection_change", args=[objection.pk])

    response = client.post(url, {"answer": "", "new_stars": 2})
    assert response.status_code == 200  # an answer is required

    response = client.post(url, {"answer": "补录了两次活动，调整为二星", "new_stars": 2})
    assert response.status_code == 302
    objection.refresh_from_db()
    assert (objection.outcome, objection.stars_after, objection.answered_by) == ("changed", 2, secretary_a)
    assert objection.rating.stars == 2
    assert client.post(url, {"answer": "再答", "new_stars": 3}).status_code == 403  # answered: read-only


def test_star_scheme_form_checks_the_thresholds(scene, secretary_a, org_tree, client):
    StarScheme.objects.filter(organization=org_tree.branch_a).delete()
    client.force_login(secretary_a)
    url = reverse("admin:incentives_starscheme_add")
    data = {"organization": org_tree.branch_a.pk, "basis": "hours", "publicity_days": 5}
    response = client.post(url, {**data, "thresholds": "100, 50, 600, 1000, 1500"})
    assert "递增" in response.content.decode()
    response = client.post(url, {**data, "thresholds": "50，150，300，500，800"})
    assert response.status_code == 302
    assert StarScheme.objects.get(organization=org_tree.branch_a).thresholds == [50, 150, 300, 500, 800]
    response = client.post(url, {**data, "organization": org_tree.east.pk, "thresholds": ""})
    assert response.status_code == 200  # the east committee is not in branch A's scope


# --- Commendations ----------------------------------------------------------------------------------------------


def test_nominate_in_the_admin_and_approve_from_above(scene, member_a, secretary_a, east_secretary, org_tree, client):
    client.force_login(secretary_a)
    response = client.post(
        reverse("admin:incentives_commendation_add"),
        {
            "member": member_a.pk,
            "organization": org_tree.branch_a.pk,
            "title": "最美志愿者",
            "citation": "坚持为社区老人服务五年。",
            "awarded_on": "2025-07-01",
        },
    )
    assert response.status_code == 302
    commendation = Commendation.objects.get(title="最美志愿者")
    assert commendation.nominated_by == secretary_a

    response = _action(client, "commendation", "approve_selected", [commendation])
    assert "上级组织" in response.content.decode()
    commendation.refresh_from_db()
    assert commendation.status == "nominated"

    client.force_login(east_secretary)
    _action(client, "commendation", "approve_selected", [commendation])
    commendation.refresh_from_db()
    assert (commendation.status, commendation.approved_by, commendation.published) == ("approved", east_secretary, True)
    assert LedgerEntry.objects.filter(member=member_a, rule__code="commendation").count() == 1


def test_decline_asks_for_a_reason(scene, east_secretary, client):
    commendation = scene.a["commendation"]
    client.force_login(east_secretary)
    assert "不予批准的原因" in _action(client, "commendation", "decline_selected", [commendation]).content.decode()
    _action(client, "commendation", "decline_selected", [commendation], apply="1", reason="事迹材料不全")
    commendation.refresh_from_db()
    assert (commendation.status, commendation.decision_note) == ("declined", "事迹材料不全")


# --- Queries ----------------------------------------------------------------------------------------------------


def test_changelist_queries_do_not_grow_with_rows(org_tree, secretary_a, client):
    """Each changelist of the app, on the same rows (made once for the five)."""
    from tests.members.factories import MemberFactory

    def add_rows(n):
        for _ in range(n):
            member = MemberFactory(organization=org_tree.branch_a)
            fund(member, 100)
            redemption = services.redemption_request(member=member, item=make_item(points_cost=10))
            services.redemption_approve(redemption=redemption, actor=secretary_a)
            commendation = services.commendation_nominate(
                member=member, title="优秀", citation="事迹", actor=secretary_a
            )
            assert commendation.pk
            run = RatingRun.objects.create(
                organization=org_tree.branch_a,
                period_start=date(2000, 1, 1) + timedelta(days=member.pk),
                period_end=date(2000, 1, 1) + timedelta(days=member.pk),
                status="publicity",
                publicity_ends_on=timezone.localdate() + timedelta(days=5),
                published_at=timezone.now(),
            )
            rating = run.ratings.create(
                member=member, basis="hours", thresholds=[1, 2, 3, 4, 5], basis_value=0, computed_stars=0, stars=0
            )
            Objection.objects.create(rating=rating, member=member, text="异议", stars_before=0)

    client.force_login(secretary_a)
    models = ["ledgerentry", "redemption", "pointsbalance", "commendation", "objection"]
    assert_constant_queries_of(client, [reverse(f"admin:incentives_{m}_changelist") for m in models], add_rows)
    assert Redemption.objects.exists()
