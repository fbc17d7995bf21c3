"""Pages of the news app: the list and an item (/news/, what the visitor may read), its photo, and the secretary's
message to every member of their subtree (/dashboard/messages/new/). Thin: reads through selectors, writes through
services."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from core.forms import add_service_errors
from members.selectors import is_organization_admin

from . import selectors, services
from .forms import BroadcastForm


@require_GET
def news_list(request):
    page = Paginator(selectors.news_for_viewer(request.user), selectors.PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "news/list.html", {"page": page})


def _item_or_404(request, pk: int):
    news = selectors.news_item(request.user, pk)
    if news is None:
        raise Http404(_("找不到该通知或风采。"))
    return news


@require_GET
def news_detail(request, pk: int):
    return render(request, "news/detail.html", {"news": _item_or_404(request, pk)})


@require_GET
def news_photo(request, pk: int):
    """The item's photo, for whoever may read the item: always the JPEG the service wrote, never sniffed."""
    news = _item_or_404(request, pk)
    if not news.photo:
        raise Http404(_("找不到该照片。"))
    try:
        handle = news.photo.open("rb")
    except FileNotFoundError:
        raise Http404(_("找不到该照片。")) from None
    response = FileResponse(handle, content_type="image/jpeg")
    response["Cache-Control"] = "private, max-age=3600"
    return response


@login_required
@require_http_methods(["GET", "POST"])
def broadcast_new(request):
    """Write → see "将发送给 N 名党员" → confirm. Only whoever administers an organization (404 for anyone else)."""
    if not (request.user.is_superuser or is_organization_admin(request.user)):
        raise Http404(_("找不到该页面。"))
    organizations = selectors.broadcast_organizations(request.user)
    form = BroadcastForm(request.POST or None, organizations=organizations)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        if "edit" in request.POST:
            return render(request, "news/broadcast_form.html", {"form": form})
        if "confirm" in request.POST and data["request_key"]:
            try:
                broadcast = services.broadcast_send(
                    actor=request.user,
                    organization=data["organization"],
                    subject=data["subject"],
                    body=data["body"],
                    request_key=data["request_key"],
                )
            except PermissionDenied:
                raise Http404(_("找不到该页面。")) from None
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request,
                    _("消息已开始发送给 %(count)d 名党员（%(organization)s）。")
                    % {"count": broadcast.recipient_count, "organization": broadcast.organization.name},
                )
                return redirect("news:broadcast_new")
        if form.is_valid():
            count = selectors.broadcast_recipient_count(data["organization"])
            confirm = BroadcastForm(
                initial={**data, "request_key": data["request_key"] or uuid.uuid4()}, organizations=organizations
            )
            return render(request, "news/broadcast_confirm.html", {"form": confirm, "data": data, "count": count})
    return render(request, "news/broadcast_form.html", {"form": form})
