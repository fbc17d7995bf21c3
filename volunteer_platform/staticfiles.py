"""Static files with a content hash in their names, and no error page when `collectstatic` has not run."""

import logging

from django.contrib.staticfiles.storage import ManifestStaticFilesStorage

logger = logging.getLogger(__name__)


class HashedStaticFilesStorage(ManifestStaticFilesStorage):
    """`site.css` is served as `site.3f2a9c1b.css` after `collectstatic`, so nginx may let browsers keep static
    files for a year (deploy/nginx.conf) and an upgrade still reaches them at once.

    Django's class raises ValueError for a name missing from the manifest, which turns every page into a 500 when
    `collectstatic` was skipped (a benchmark, a forgotten upgrade step). Here such a name keeps its plain URL and a
    warning is logged: the page renders, and the missing file shows up as a 404 in nginx's log."""

    manifest_strict = False

    def stored_name(self, name):
        try:
            return super().stored_name(name)
        except ValueError:
            logger.warning("static file %s is not collected (run manage.py collectstatic); using its plain name", name)
            return name
