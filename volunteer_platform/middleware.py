from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from django.urls import reverse


class CSPMiddleware(BaseCSPMiddleware):
    """django-csp's middleware with one exception: under /admin/ inline style *attributes* are allowed
    (style-src-attr), because admin add-ons (django-import-export, django-simple-history) and the organisation
    tree's indentation use them. Scripts and <style> elements stay 'self' everywhere."""

    _admin_prefix: str | None = None

    def get_policy_parts(self, request, response, report_only=False):
        parts = super().get_policy_parts(request, response, report_only)
        if self._admin_prefix is None:
            type(self)._admin_prefix = reverse("admin:index")
        if not report_only and request.path_info.startswith(self._admin_prefix):
            parts.update = {**(parts.update or {}), "style-src-attr": [UNSAFE_INLINE]}
        return parts
