"""A bare Django view for `make bench`: the site's own settings, but no middleware and a URLconf of one path, served
by the same gunicorn. The ceiling (/bench/ceiling/, the same answer through the whole middleware stack) is measured
against it: the difference is what the stack costs every request (target: the ceiling ≥ 80 % of this)."""

import os

from django.http import HttpResponse
from django.urls import path

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "volunteer_platform.settings")


def ceiling(request):
    return HttpResponse(b"ok", content_type="text/plain")


urlpatterns = [path("bench/ceiling/", ceiling)]


def _application():
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application

    settings.MIDDLEWARE = []
    settings.ROOT_URLCONF = __name__
    return get_wsgi_application()


application = _application()
