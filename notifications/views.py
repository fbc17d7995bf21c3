import json
import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.redirects import redirect_next

from . import services
from .forms import PreferencesForm
from .models import Notification
from .rendering import render_message
from .selectors import inbox_for, preferences_for, unread_count
from .sms_gateways import RECEIPT_ANSWERS, receipt_reports

logger = logging.getLogger(__name__)

INBOX_PAGE_SIZE = 20


@login_required
@require_GET
def inbox(request):
    page = Paginator(inbox_for(request.user), INBOX_PAGE_SIZE).get_page(request.GET.get("page"))
    language = translation.get_language()
    items = [(notification, render_message(notification, language=language)) for notification in page]
    context = {"page": page, "items": items, "unread": unread_count(request.user)}
    return render(request, "notifications/inbox.html", context)


@login_required
@require_POST
def inbox_mark_read(request, notification_id: int | None = None):
    try:
        services.inbox_mark_read(user=request.user, notification_id=notification_id)
    except Notification.DoesNotExist as exc:
        raise Http404 from exc
    return redirect_next(request, "notifications:inbox")


@login_required
@require_http_methods(["GET", "POST"])
def preferences(request):
    """/me/notifications/preferences/: which kinds of message also come by email or SMS (in-app always does)."""
    form = PreferencesForm(request.POST or None, current=preferences_for(request.user))
    if request.method == "POST" and form.is_valid():
        services.preferences_save(user=request.user, choices=form.choices())
        messages.success(request, _("通知设置已保存。"))
        return redirect("notifications:preferences")
    return render(request, "notifications/preferences.html", {"form": form})


@csrf_exempt  # the gateway's push carries no CSRF token; the secret in the address is its credential
@require_POST
def sms_receipt(request, vendor: str, token: str):
    """A delivery receipt pushed by an SMS gateway (notifications.sms_gateways, "Delivery receipts"): mark the rows
    it names. The address holds SMS_RECEIPT_TOKEN; a wrong one, an unknown vendor or no token configured is a 404,
    a body that is not a receipt a 400 in the vendor's answer format (the gateway then pushes it again)."""
    configured = settings.SMS_RECEIPT_TOKEN
    if vendor not in RECEIPT_ANSWERS or not configured or not constant_time_compare(token, configured):
        raise Http404
    accepted, refused = RECEIPT_ANSWERS[vendor]
    try:
        reports = receipt_reports(vendor, json.loads(request.body.decode("utf-8")))
    except (ValueError, UnicodeDecodeError):
        return JsonResponse(refused, status=400)
    matched = services.sms_receipts_record(reports=reports)
    logger.info("SMS receipt from %s: %d reports, %d rows matched", vendor, len(reports), matched)
    return JsonResponse(accepted, json_dumps_params={"ensure_ascii": False})
