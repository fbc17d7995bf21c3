from .models import AuditEvent
from .services import audit_record


class FullDataViewAuditMixin:
    """For a ModelAdmin whose change page shows personal data in full (a member's phone and ID number, a
    household's contact and priority groups): every page of one object shown is a FULL_DATA_VIEW event."""

    audit_full_data_fields: tuple[str, ...] = ()

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        if request.method == "GET" and response.status_code == 200:
            audit_record(
                action=AuditEvent.Action.FULL_DATA_VIEW,
                request=request,
                object_type=self.model._meta.label_lower,
                object_id=object_id,
                detail={"fields": list(self.audit_full_data_fields)},
            )
        return response
