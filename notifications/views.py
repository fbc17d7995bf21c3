from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.redirects import redirect_next

from . import services
from .forms import PreferencesForm
from .models import Notification
from .rendering import render_message
from .selectors import inbox_for, preferences_for, unread_count

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
