"""core.middleware.LazyMessageMiddleware: the message storage is made only when a message is read or added, and a
message waits in its cookie through answers that never touch messages (a download, a redirect, /healthz)."""

from django.contrib import messages
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import RequestFactory
from django.utils.functional import empty

from core.middleware import LazyMessageMiddleware


def _answer(view, cookies: dict[str, str]):
    request = RequestFactory().get("/")
    request.COOKIES.update(cookies)
    response = SessionMiddleware(LazyMessageMiddleware(view))(request)
    return request, response


def test_a_message_waits_through_answers_that_never_touch_messages(db):
    def add(request):
        messages.success(request, "报名成功：社区义诊。")
        return HttpResponse(status=302)

    def untouched(request):
        return HttpResponse(b"ok")

    def shown(request):
        return HttpResponse(" | ".join(str(m) for m in messages.get_messages(request)))

    _request, added = _answer(add, {})
    cookie = added.cookies["messages"].value
    assert cookie

    request, between = _answer(untouched, {"messages": cookie})
    assert request._messages._wrapped is empty  # no storage made, nothing signed
    assert "messages" not in between.cookies  # the waiting message's cookie left as it is

    _request, page = _answer(shown, {"messages": cookie})
    assert page.content.decode() == "报名成功：社区义诊。"
    assert page.cookies["messages"]["max-age"] == 0  # read once, then gone, as Django's own
