"""The notifications app in the JSON API (/api/v1/): the account's notification preferences.

Beside views.py and as thin: the same form reads the choices (a field `<kind>-email` / `<kind>-sms` per kind,
true or false; a field not sent is false, as an unticked box on the page), the same service stores them.
"""

from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from core.api import ErrorSerializer, form_data, form_invalid

from . import services
from .forms import PreferencesForm
from .kinds import KINDS, OPTIONAL_CHANNELS
from .selectors import preferences_for

ERRORS = {400: ErrorSerializer, 401: ErrorSerializer, 403: ErrorSerializer, 404: ErrorSerializer}


class PreferenceSerializer(serializers.Serializer):
    kind = serializers.CharField()
    label = serializers.CharField()
    help_text = serializers.CharField()
    email = serializers.BooleanField()
    sms = serializers.BooleanField()


class PreferencesSerializer(serializers.Serializer):
    detail = serializers.CharField(required=False, help_text="after saving: the page's confirmation")
    kinds = PreferenceSerializer(many=True, help_text="every kind of message; in-app is always on")


PreferencesInput = inline_serializer(
    "PreferencesInput",
    {
        PreferencesForm.field_name(key, channel): serializers.BooleanField(
            required=False, help_text=f"{kind.label}：{channel}"
        )
        for key, kind in KINDS.items()
        for channel in OPTIONAL_CHANNELS
    },
)


def _answer(user, **extra) -> Response:
    current = preferences_for(user)
    kinds = [
        {
            "kind": key,
            "label": str(kind.label),
            "help_text": str(kind.help_text),
            **{channel: channel in current[key] for channel in OPTIONAL_CHANNELS},
        }
        for key, kind in KINDS.items()
    ]
    return Response(PreferencesSerializer({**extra, "kinds": kinds}).data)


@extend_schema(
    operation_id="me_preferences",
    summary="通知设置（哪些消息同时发邮件或短信）",
    responses={200: PreferencesSerializer, **ERRORS},
)
@api_view(["GET"])
@permission_classes([IsAuthenticated])
def preferences(request):
    return _answer(request.user)


@extend_schema(
    operation_id="me_preferences_save",
    summary="保存通知设置",
    request=PreferencesInput,
    responses={200: PreferencesSerializer, **ERRORS},
)
@api_view(["POST"])
@permission_classes([IsAuthenticated])
def preferences_save(request):
    form = PreferencesForm(form_data(request), current=preferences_for(request.user))
    if not form.is_valid():
        return form_invalid(form)
    services.preferences_save(user=request.user, choices=form.choices())
    return _answer(request.user, detail=_("通知设置已保存。"))
