"""SMS through a real gateway: Aliyun 短信服务 (dysmsapi 2017-05-25) and Tencent Cloud 短信 (sms 2021-01-11), each
through the vendor's own SDK. `SMS_BACKEND = "notifications.sms_gateways.AliyunSMSBackend"` (or
`TencentSMSBackend`), with the settings below (docs/deploy.md, "SMS").

Both gateways send only a signature (签名) and a template (模板) the vendor has approved, with the values of its
variables — not free text. Each message of ours is a template folder (notifications/templates/notifications/<key>/
sms.txt); `manage.py sms_templates` prints, for each, the text to submit for approval with its variables in the
vendor's notation. The vendor's id of each approved template goes in `SMS_TEMPLATE_IDS` ({our key: their id}); the
variables are sent by name (Aliyun) or in the order the text uses them (Tencent).

Errors are sorted for the outbox (notifications.services.notification_dispatch): what may succeed later — the
vendor's rate limits, its internal errors, timeouts, a refused connection — is a TransientChannelError (retried with
backoff); what never will — a template not approved or not configured, a wrong signature, an invalid or blocked
number, bad credentials — is a PermanentChannelError (the row is marked failed at once, the error kept on it).

Settings: SMS_ACCESS_KEY_ID, SMS_ACCESS_KEY_SECRET (Aliyun AccessKey, or Tencent SecretId / SecretKey),
SMS_SIGN_NAME, SMS_TEMPLATE_IDS, SMS_SDK_APP_ID and SMS_REGION (Tencent only), SMS_ENDPOINT (the vendor's host;
overridden in tests by a fake gateway on 127.0.0.1, with SMS_ENDPOINT_PROTOCOL "http"), SMS_TIMEOUT_SECONDS.
"""

import json
import logging
from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings

from .channels import PermanentChannelError, TransientChannelError
from .sms import BaseSMSBackend, DeliveryReport, OutgoingSMS

logger = logging.getLogger(__name__)

# Aliyun's answer codes (https://help.aliyun.com/document_detail/101346.html) that may succeed later; any other
# code but "OK" never will. Its rate limits: isv.BUSINESS_LIMIT_CONTROL (per number per minute, hour and day),
# isv.DAY_LIMIT_CONTROL; isp.* are its own errors.
ALIYUN_TRANSIENT = {
    "isv.BUSINESS_LIMIT_CONTROL",
    "isv.DAY_LIMIT_CONTROL",
    "isp.SYSTEM_ERROR",
    "isp.RAM_PERMISSION_DENY",
}
ALIYUN_TRANSIENT_PREFIXES = ("isp.", "Throttling", "ServiceUnavailable", "InternalError")

# Tencent Cloud's (https://cloud.tencent.com/document/product/382/55981): rate limits (LimitExceeded.*), its
# internal errors and timeouts; any other code but "Ok" never succeeds by trying again.
TENCENT_TRANSIENT_PREFIXES = ("LimitExceeded.", "InternalError", "RequestLimitExceeded", "FailedOperation.Timeout")


def _template_id(message: OutgoingSMS) -> str:
    template_id = (settings.SMS_TEMPLATE_IDS or {}).get(message.template)
    if not template_id:
        raise PermanentChannelError(
            f"SMS_TEMPLATE_IDS 中没有模板 {message.template!r} 的编号（manage.py sms_templates）"
        )
    return str(template_id)


def _timeout_ms() -> int:
    return int(settings.SMS_TIMEOUT_SECONDS * 1000)


class AliyunSMSBackend(BaseSMSBackend):
    """Aliyun 短信服务 SendSms: one number, the signature, the template's id and its variables as JSON by name, and
    `OutId` = the outbox row's dedupe key (the reference a delivery receipt names)."""

    def send(self, phone: str, text: str, *, reference: str = "") -> None:
        raise PermanentChannelError("阿里云短信只能发送已审核的模板，不能发送任意文本")

    def _client(self):
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi import models as open_api_models

        config = open_api_models.Config(
            access_key_id=settings.SMS_ACCESS_KEY_ID,
            access_key_secret=settings.SMS_ACCESS_KEY_SECRET,
            endpoint=settings.SMS_ENDPOINT or "dysmsapi.aliyuncs.com",
            protocol=settings.SMS_ENDPOINT_PROTOCOL,
            connect_timeout=_timeout_ms(),
            read_timeout=_timeout_ms(),
        )
        return Client(config)

    def send_message(self, message: OutgoingSMS) -> str:
        from alibabacloud_dysmsapi20170525 import models
        from alibabacloud_tea_util import models as util_models
        from Tea.exceptions import TeaException, UnretryableException

        request = models.SendSmsRequest(
            phone_numbers=message.phone,
            sign_name=settings.SMS_SIGN_NAME,
            template_code=_template_id(message),
            template_param=json.dumps(dict(message.params), ensure_ascii=False),
            out_id=message.reference[:256],
        )
        runtime = util_models.RuntimeOptions(
            autoretry=False, connect_timeout=_timeout_ms(), read_timeout=_timeout_ms()
        )  # the outbox retries, with its own backoff
        try:
            response = self._client().send_sms_with_options(request, runtime)
        except UnretryableException as exc:  # the connection: refused, reset, timed out
            raise TransientChannelError(f"阿里云短信连接失败: {exc}") from exc
        except TeaException as exc:
            code = str(exc.code or "")
            status = (exc.data or {}).get("statusCode") if isinstance(exc.data, dict) else None
            if (
                (status and int(status) >= 500)
                or code.startswith(ALIYUN_TRANSIENT_PREFIXES)
                or code in ALIYUN_TRANSIENT
            ):
                raise TransientChannelError(f"阿里云短信 {code}: {exc.message}") from exc
            raise PermanentChannelError(f"阿里云短信 {code}: {exc.message}") from exc
        except OSError as exc:
            raise TransientChannelError(f"阿里云短信连接失败: {exc}") from exc
        body = response.body
        code = str(getattr(body, "code", "") or "")
        if code == "OK":
            return str(getattr(body, "biz_id", "") or "")
        detail = f"阿里云短信 {code}: {getattr(body, 'message', '')}"
        if code in ALIYUN_TRANSIENT or code.startswith(ALIYUN_TRANSIENT_PREFIXES):
            raise TransientChannelError(detail)
        raise PermanentChannelError(detail)


class TencentSMSBackend(BaseSMSBackend):
    """Tencent Cloud 短信 SendSms: the number in E.164 (+86…), the SDK app id, the signature, the template's id and its
    variables in order, and `SessionContext` = the outbox row's dedupe key (returned in the delivery receipt)."""

    def send(self, phone: str, text: str, *, reference: str = "") -> None:
        raise PermanentChannelError("腾讯云短信只能发送已审核的模板，不能发送任意文本")

    def _client(self):
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        http = HttpProfile(
            protocol=settings.SMS_ENDPOINT_PROTOCOL,
            endpoint=settings.SMS_ENDPOINT or "sms.tencentcloudapi.com",
            reqTimeout=max(1, int(settings.SMS_TIMEOUT_SECONDS)),
        )
        cred = credential.Credential(settings.SMS_ACCESS_KEY_ID, settings.SMS_ACCESS_KEY_SECRET)
        return sms_client.SmsClient(cred, settings.SMS_REGION, ClientProfile(httpProfile=http))

    def send_message(self, message: OutgoingSMS) -> str:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import TencentCloudSDKException
        from tencentcloud.sms.v20210111 import models

        request = models.SendSmsRequest()
        request.PhoneNumberSet = [message.phone if message.phone.startswith("+") else f"+86{message.phone}"]
        request.SmsSdkAppId = settings.SMS_SDK_APP_ID
        request.SignName = settings.SMS_SIGN_NAME
        request.TemplateId = _template_id(message)
        request.TemplateParamSet = [value for _name, value in message.params]
        request.SessionContext = message.reference[:512]
        try:
            response = self._client().SendSms(request)
        except TencentCloudSDKException as exc:
            code = str(exc.code or "")
            detail = f"腾讯云短信 {code}: {exc.message}"
            if not code or code.startswith(("ClientNetworkError", "ServerNetworkError", *TENCENT_TRANSIENT_PREFIXES)):
                raise TransientChannelError(detail) from exc
            raise PermanentChannelError(detail) from exc
        except OSError as exc:
            raise TransientChannelError(f"腾讯云短信连接失败: {exc}") from exc
        statuses = response.SendStatusSet or []
        status = statuses[0] if statuses else None
        code = str(getattr(status, "Code", "") or "")
        if code == "Ok":
            return str(getattr(status, "SerialNo", "") or "")
        detail = f"腾讯云短信 {code or '无发送结果'}: {getattr(status, 'Message', '')}"
        if not code or code.startswith(TENCENT_TRANSIENT_PREFIXES):
            raise TransientChannelError(detail)
        raise PermanentChannelError(detail)


# --- Delivery receipts ------------------------------------------------------------------------------------------
# The gateways push receipts to an address set in their consoles (docs/deploy.md, "SMS"): a JSON array of reports,
# possibly several messages' at once, possibly again. Formats from the vendors' documentation:
# Aliyun SmsReport, HTTP batch push — [{"phone_number", "send_time", "report_time", "success", "err_code",
#   "err_msg", "sms_size", "biz_id", "out_id"}], answered {"code": 0, "msg": "接收成功"} (any other HTTP status
#   than 200 makes it push again after 1, 5 and 10 minutes);
# Tencent Cloud 短信下发状态通知 — [{"user_receive_time", "nationcode", "mobile", "report_status": "SUCCESS" or
#   "FAIL", "errmsg", "description", "sid"}] (sid = the SerialNo SendSms returned), answered {"result": 0,
#   "errmsg": "OK"}.


def _local_time(value: object) -> datetime | None:
    try:
        naive = datetime.strptime(str(value), "%Y-%m-%d %H:%M:%S")
    except ValueError:
        return None
    return naive.replace(tzinfo=ZoneInfo("Asia/Shanghai"))  # both gateways report Beijing time


def receipt_reports(vendor: str, payload: object) -> list[DeliveryReport]:
    """The reports of a receipt pushed by `vendor` ("aliyun" or "tencent"); ValueError when it is not one."""
    if not isinstance(payload, list) or not all(isinstance(item, dict) for item in payload):
        raise ValueError("a receipt is a JSON array of objects")
    reports = []
    for item in payload:
        if vendor == "aliyun":
            delivered = item.get("success") is True
            error = f"{item.get('err_code', '')} {item.get('err_msg', '')}".strip()
            reports.append(
                DeliveryReport(
                    reference=str(item.get("out_id") or ""),
                    provider_message_id=str(item.get("biz_id") or ""),
                    delivered=delivered,
                    reported_at=_local_time(item.get("report_time")),
                    error=error,
                )
            )
        else:
            delivered = item.get("report_status") == "SUCCESS"
            error = f"{item.get('errmsg', '')} {item.get('description', '')}".strip()
            reports.append(
                DeliveryReport(
                    reference="",
                    provider_message_id=str(item.get("sid") or ""),
                    delivered=delivered,
                    reported_at=_local_time(item.get("user_receive_time")),
                    error=error,
                )
            )
    return reports


RECEIPT_ANSWERS = {
    "aliyun": ({"code": 0, "msg": "接收成功"}, {"code": 1, "msg": "格式错误"}),
    "tencent": ({"result": 0, "errmsg": "OK"}, {"result": 1, "errmsg": "bad format"}),
}
