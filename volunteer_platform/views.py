from django.http import HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views import defaults, i18n
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core import public_cache
from core.api import error_body
from core.redirects import referer_path, safe_next_url
from news import selectors as news_selectors

from .health import broker_state, database_state, outbox_state, replica_state
from .selectors import public_figures


@require_GET
@public_cache.public_page("news", timeout=60)
def home(request):
    """The public home page: what the platform is for, what each audience can do, this year's figures
    (aggregates only, cached for 5 minutes: no query for a visitor while they are cached) and the newest public
    通知公告 and 活动风采 (one query; publishing or withdrawing one drops the cached page: group "news")."""
    context = {"figures": public_figures(), "news": news_selectors.latest_public_news()}
    return render(request, "volunteer_platform/home.html", context)


@never_cache
@require_GET
def healthz(request):
    """For load balancers: 200 when the database and the broker answer, 503 otherwise. Also reports the age of the
    oldest due pending notification (`outbox.oldest_pending_age_seconds`) and, when there is one, the read replica
    (`replica`: ok / lagging with its lag / unreachable, and where the figures are read from) for monitoring;
    neither changes the status code."""
    db_ok, db_detail = database_state()
    broker_ok, broker_detail = broker_state()
    ok = db_ok and broker_ok
    body = {
        "status": "ok" if ok else "error",
        "database": {"ok": db_ok, "detail": db_detail},
        "broker": {"ok": broker_ok, "detail": broker_detail},
        "outbox": outbox_state() if db_ok else {"oldest_pending_age_seconds": None},
    }
    replica = replica_state()
    if replica is not None:
        body["replica"] = replica
    return JsonResponse(body, status=200 if ok else 503)


@require_GET
def bench_ceiling(request):
    """The benchmark's ceiling (mounted only with BENCH_CEILING_VIEW): a fixed short answer through the whole
    middleware stack, no template and no query — what every page is measured against."""
    return HttpResponse(b"ok", content_type="text/plain")


def set_language(request):
    """Django's language switch, going back only to a path on this site (core/redirects.py): the `next` of the
    language form, else the page the visitor came from, else home. Django's own check let a bare word through as a
    relative URL (`undefined` → /i18n/undefined)."""
    value = request.POST.get("next") if request.method == "POST" else request.GET.get("next")
    target = safe_next_url(request, value) or referer_path(request) or "/"
    if request.method != "POST":
        return HttpResponseRedirect(target)  # a GET changes nothing (as Django's)
    request.POST = request.POST.copy()
    request.POST["next"] = target
    return i18n.set_language(request)


# --- Errors raised before a view answers (a NUL in the query, an unknown address, a crash) -------------------------
# Under /api/ they answer in the API's one error format (core/api.py), elsewhere with the site's pages.


def _api_error(request, status: int, code: str, detail: str) -> JsonResponse | None:
    if not request.path.startswith("/api/"):
        return None
    return JsonResponse(error_body(detail, code), status=status, json_dumps_params={"ensure_ascii": False})


def bad_request(request, exception):
    return _api_error(request, 400, "invalid", _("请求有误。")) or defaults.bad_request(request, exception)


def permission_denied(request, exception):
    answer = _api_error(request, 403, "permission_denied", _("没有权限。"))
    return answer or defaults.permission_denied(request, exception)


def page_not_found(request, exception):
    return _api_error(request, 404, "not_found", _("找不到。")) or defaults.page_not_found(request, exception)


def server_error(request):
    return _api_error(request, 500, "error", _("服务器出错了，请稍后再试。")) or defaults.server_error(request)
