"""Member pages (/me/points/, /rewards/, the leaderboard) and the public exemplars page. Thin: reads come from
`selectors`, writes from `services`; a member sees only their own rows, anything else answers 404."""

import uuid
from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.member_cache import member_page
from core.page_params import page_number
from members import decorators as members_decorators
from members import selectors as members_selectors
from members.models import Member, Organization

from . import selectors, services
from .forms import ObjectionForm
from .models import Commendation, Redemption, StarRating

ENTRIES_PAGE_SIZE = 20
EXEMPLARS_PAGE_SIZE = 20
RECENT_REDEMPTIONS = 20


# Signed in and linked to a member record (request.member); other accounts get a 404 page that says why.
member_required = members_decorators.member_required("incentives/no_member.html")


def _year_range(today: date) -> tuple[date, date]:
    return date(today.year, 1, 1), date(today.year, 12, 31)


@require_GET
@member_page(params={"page": page_number})
@member_required
def points(request):
    member = request.member
    today = timezone.localdate()
    page = Paginator(selectors.entries_for(member), ENTRIES_PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    for entry in page.object_list:
        entry.text = selectors.entry_text(entry)
    ratings = list(selectors.ratings_for(member))
    standing = selectors.star_standing_of(ratings)
    live = selectors.rating_live_values(member, ratings)
    for rating in ratings:
        rating.can_object = selectors.can_object(rating, today)
        # A final rating keeps the value it was rated on; the page says when the records have changed since.
        rating.live_value = live.get(rating.pk, rating.basis_value)
    context = {
        "member": member,
        "balance": selectors.balance_of(member),
        "earned_this_year": selectors.earned_between([member.pk], *_year_range(today)).get(member.pk, 0),
        "page": page,
        "open_redemptions": list(selectors.open_redemptions_for(member)),
        "ratings": ratings,
        "current_rating": standing.current,
        "publicity_rating": standing.publicity,
        "commendations": list(selectors.commendations_for(member)),
    }
    return render(request, "incentives/points.html", context)


@require_GET
@login_required
def publicity(request, run_id: int):
    """星级评定公示: the list every member of the rated organization (and its secretaries) can open — names masked
    as on public pages unless the member consented, stars and the value rated — with the way to object for the
    member concerned. Anyone else: 404."""
    member = members_selectors.member_for(request.user)
    run = selectors.publicity_run(request.user, member, run_id)
    if run is None:
        raise Http404(_("找不到该星级评定。"))
    page = Paginator(selectors.publicity_list(run), selectors.PUBLICITY_PAGE_SIZE).get_page(request.GET.get("page"))
    own = None
    if member is not None:
        own = selectors.own_rating(run, member)
        if own is not None:
            own.can_object = selectors.can_object(own, timezone.localdate())
    for rating in page.object_list:
        rating.is_me = member is not None and rating.member_id == member.pk
        rating.display_name = rating.member.name if rating.is_me else rating.member.public_name
    return render(request, "incentives/publicity.html", {"run": run, "page": page, "own": own})


@require_http_methods(["GET", "POST"])
@member_required
def objection(request, rating_id: int):
    rating = get_object_or_404(
        StarRating.objects.select_related("run__organization").exclude(status=StarRating.Status.DRAFT),
        pk=rating_id,
        member=request.member,
    )
    form = ObjectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.objection_file(rating=rating, member=request.member, text=form.cleaned_data["text"])
        except ValidationError as exc:
            form.add_error(None, exc)
        else:
            messages.success(request, _("异议已提交，书记答复后会通知您。"))
            return redirect("incentives:points")
    return render(request, "incentives/objection.html", {"rating": rating, "form": form})


@require_POST
@member_required
def commendation_consent(request, commendation_id: int):
    commendation = get_object_or_404(
        Commendation, pk=commendation_id, member=request.member, status=Commendation.Status.APPROVED
    )
    consent = request.POST.get("consent") == "1"
    services.commendation_consent(commendation=commendation, member=request.member, consent=consent)
    if consent:
        messages.success(request, _("已同意在先进典型页面展示这项表彰。"))
    else:
        messages.success(request, _("已撤回同意，这项表彰不再公开展示。"))
    return redirect("incentives:points")


@require_GET
@member_required
def leaderboard(request):
    member = request.member
    organizations = list(
        Organization.objects.filter(pk__in=selectors.ancestor_ids(member.organization)).order_by("path")
    )
    chosen = next((o for o in organizations if str(o.pk) == request.GET.get("organization")), member.organization)
    year = timezone.localdate().year
    rows = selectors.leaderboard(chosen, year=year)
    for row in rows:
        row["is_me"] = row["member_id"] == member.pk
        # Masked as on public pages (Member.public_name), except for the member's own row.
        masked = Member(name=row["name"], show_full_name_publicly=row["show_full_name_publicly"]).public_name
        row["display_name"] = row["name"] if row["is_me"] else masked
    context = {
        "organizations": organizations,
        "chosen": chosen,
        "year": year,
        "rows": rows,
        "opted_out": selectors.leaderboard_opted_out(member),
    }
    return render(request, "incentives/leaderboard.html", context)


@require_POST
@member_required
def leaderboard_opt_out(request):
    opt_out = request.POST.get("opt_out") == "1"
    services.leaderboard_opt_out_set(member=request.member, opt_out=opt_out)
    if opt_out:
        messages.success(request, _("您已退出积分排行，其他人看不到您的名次。"))
    else:
        messages.success(request, _("您已重新参加积分排行。"))
    return redirect("incentives:leaderboard")


@require_GET
@member_required
def rewards(request):
    member = request.member
    now = timezone.now()
    balance = selectors.balance_of(member)
    stars = selectors.current_stars(member)
    items = list(selectors.catalogue_for(member))
    for item in items:
        item.blocker = selectors.redeem_blocker(item, now=now, balance=balance.balance, stars=stars)
    context = {
        "balance": balance,
        "stars": stars,
        "items": items,
        "token": uuid.uuid4().hex,
        "redemptions": list(selectors.redemptions_for(member)[:RECENT_REDEMPTIONS]),
    }
    return render(request, "incentives/rewards.html", context)


@require_POST
@member_required
def redeem(request, item_id: int):
    item = get_object_or_404(selectors.catalogue_for(request.member), pk=item_id)
    token = request.POST.get("token", "")[:64]
    try:
        redemption = services.redemption_request(
            member=request.member, item=item, idempotency_key=f"{token}:{item.pk}" if token else None
        )
    except ValidationError as exc:
        messages.error(request, "；".join(exc.messages))
    else:
        # The points are spent at once (a spend entry, redemption_request); cancelling or a refusal refunds them.
        messages.success(
            request,
            _(
                "已提交兑换“%(item)s”，已扣除 %(points)d 积分。书记审核后会通知您提货码；"
                "如您取消兑换或未获批准，积分将退还。"
            )
            % {"item": item.display_name, "points": redemption.points},
        )
    return redirect("incentives:rewards")


@require_POST
@member_required
def redemption_cancel(request, redemption_id: int):
    redemption = get_object_or_404(Redemption, pk=redemption_id, member=request.member)
    try:
        services.redemption_cancel(redemption=redemption, actor=request.user, by_member=True)
    except (ValidationError, PermissionDenied) as exc:
        messages.error(request, "；".join(getattr(exc, "messages", [str(exc)])))
    else:
        messages.success(request, _("已取消兑换，积分已退还。"))
    return redirect("incentives:rewards")


@require_GET
def exemplars(request):
    """Public: approved, published commendations of members who consented; names masked unless consented."""
    page = Paginator(selectors.exemplars(), EXEMPLARS_PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "incentives/exemplars.html", {"page": page})
