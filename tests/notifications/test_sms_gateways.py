"""The Aliyun and Tencent Cloud SMS backends (notifications/sms_gateways.py), through the vendors' SDKs, against
small fakes of each gateway's HTTP API on 127.0.0.1 (SMS_ENDPOINT and SMS_ENDPOINT_PROTOCOL point the SDK at them):
what is sent, and how each kind of answer is sorted for the outbox."""

import json
import logging
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.management import call_command

from notifications.channels import PermanentChannelError, TransientChannelError
from notifications.models import Notification
from notifications.services import notification_dispatch, notify, sms_send_now
from notifications.sms import OutgoingSMS
from notifications.sms_gateways import AliyunSMSBackend, TencentSMSBackend

PHONE = "13912345678"
MESSAGE = OutgoingSMS(
    phone=PHONE,
    text="【党员志愿服务平台】您的登录验证码是123456，5分钟内有效。",
    reference="sign-in-code:7",
    template="members_sign_in_code",
    params=(("code", "123456"), ("minutes", "5")),
)


class FakeGateway:
    """One HTTP server that answers as the vendor's SendSms does; `answer` is what it says next:
    (HTTP status, JSON body). Each request is kept: its query, its form or JSON body, its headers."""

    def __init__(self):
        self.requests: list[dict] = []
        self.answer: tuple[int, dict] = (200, {})
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length).decode()
                content_type = self.headers.get("Content-Type", "")
                body = json.loads(raw) if "json" in content_type else {k: v[0] for k, v in parse_qs(raw).items()}
                query = {k: v[0] for k, v in parse_qs(urlsplit(self.path).query).items()}
                headers = {name.lower(): value for name, value in self.headers.items()}
                gateway.requests.append({"query": query, "body": body, "headers": headers})
                status, payload = gateway.answer
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")  # as both vendors send it
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway(settings):
    fake = FakeGateway()
    settings.SMS_ENDPOINT = fake.endpoint
    settings.SMS_ENDPOINT_PROTOCOL = "http"
    settings.SMS_ACCESS_KEY_ID = "test-key-id"
    settings.SMS_ACCESS_KEY_SECRET = "test-key-secret"
    settings.SMS_SIGN_NAME = "党员志愿服务平台"
    settings.SMS_SDK_APP_ID = "1400000000"
    settings.SMS_TEMPLATE_IDS = {"members_sign_in_code": "SMS_100001", "projects_activity_reminder": "SMS_100002"}
    settings.SMS_TIMEOUT_SECONDS = 5
    yield fake
    fake.close()


def _aliyun(code: str, message: str = "") -> tuple[int, dict]:
    return 200, {"Code": code, "Message": message or code, "RequestId": "req-1", "BizId": "biz-1"}


def _tencent(code: str) -> tuple[int, dict]:
    status = {"SerialNo": "2019:1", "PhoneNumber": f"+86{PHONE}", "Fee": 1, "SessionContext": "", "Code": code}
    return 200, {"Response": {"SendStatusSet": [{**status, "Message": code, "IsoCode": "CN"}], "RequestId": "r-1"}}


def _closed_port() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{sock.getsockname()[1]}"


# --- Aliyun -----------------------------------------------------------------------------------------------------


def test_aliyun_sends_the_template_its_values_and_the_reference(gateway):
    gateway.answer = _aliyun("OK")
    AliyunSMSBackend().send_message(MESSAGE)
    (request,) = gateway.requests
    sent = {**request["query"], **request["body"]}
    assert request["headers"]["x-acs-action"] == "SendSms"
    assert request["headers"]["authorization"].startswith("ACS3-HMAC-SHA256 Credential=test-key-id,")
    assert sent["PhoneNumbers"] == PHONE and sent["SignName"] == "党员志愿服务平台"
    assert sent["TemplateCode"] == "SMS_100001" and sent["OutId"] == "sign-in-code:7"
    assert json.loads(sent["TemplateParam"]) == {"code": "123456", "minutes": "5"}


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (_aliyun("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1"), TransientChannelError),
        (_aliyun("isv.DAY_LIMIT_CONTROL"), TransientChannelError),
        (_aliyun("isp.SYSTEM_ERROR"), TransientChannelError),
        (_aliyun("isv.SMS_TEMPLATE_ILLEGAL", "模板不合法(不存在或被拉黑)"), PermanentChannelError),
        (_aliyun("isv.SMS_SIGNATURE_ILLEGAL"), PermanentChannelError),
        (_aliyun("isv.MOBILE_NUMBER_ILLEGAL"), PermanentChannelError),
        ((500, {"Code": "InternalError", "Message": "The request processing has failed."}), TransientChannelError),
        (
            (403, {"Code": "InvalidAccessKeyId.NotFound", "Message": "Specified access key is not found."}),
            PermanentChannelError,
        ),
    ],
    ids=["minute-limit", "day-limit", "system-error", "template-not-approved", "signature", "number", "500", "key"],
)
def test_aliyun_sorts_its_answers_for_the_outbox(gateway, answer, error):
    gateway.answer = answer
    with pytest.raises(error) as caught:
        AliyunSMSBackend().send_message(MESSAGE)
    code = answer[1]["Code"]
    assert code in str(caught.value)


def test_aliyun_unreachable_is_transient_and_an_unconfigured_template_permanent(gateway, settings):
    with pytest.raises(PermanentChannelError, match="SMS_TEMPLATE_IDS"):
        AliyunSMSBackend().send_message(OutgoingSMS(phone=PHONE, text="x", template="members_invitation"))
    assert gateway.requests == []
    settings.SMS_ENDPOINT = _closed_port()
    with pytest.raises(TransientChannelError):
        AliyunSMSBackend().send_message(MESSAGE)


# --- Tencent Cloud ----------------------------------------------------------------------------------------------


def test_tencent_sends_the_template_its_values_in_order_and_the_reference(gateway):
    gateway.answer = _tencent("Ok")
    TencentSMSBackend().send_message(MESSAGE)
    (request,) = gateway.requests
    assert request["headers"]["x-tc-action"] == "SendSms"
    assert request["headers"]["authorization"].startswith("TC3-HMAC-SHA256 Credential=test-key-id/")
    body = request["body"]
    assert body["PhoneNumberSet"] == [f"+86{PHONE}"] and body["SmsSdkAppId"] == "1400000000"
    assert body["SignName"] == "党员志愿服务平台" and body["TemplateId"] == "SMS_100001"
    assert body["TemplateParamSet"] == ["123456", "5"] and body["SessionContext"] == "sign-in-code:7"


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (_tencent("LimitExceeded.PhoneNumberThirtySecondLimit"), TransientChannelError),
        (_tencent("LimitExceeded.PhoneNumberDailyLimit"), TransientChannelError),
        (_tencent("FailedOperation.TemplateIncorrectOrUnapproved"), PermanentChannelError),
        (_tencent("InvalidParameterValue.IncorrectPhoneNumber"), PermanentChannelError),
        (
            (200, {"Response": {"Error": {"Code": "InternalError.Timeout", "Message": "t"}, "RequestId": "r"}}),
            TransientChannelError,
        ),
        (
            (200, {"Response": {"Error": {"Code": "AuthFailure.SecretIdNotFound", "Message": "n"}, "RequestId": "r"}}),
            PermanentChannelError,
        ),
        (
            (200, {"Response": {"Error": {"Code": "RequestLimitExceeded", "Message": "n"}, "RequestId": "r"}}),
            TransientChannelError,
        ),
    ],
    ids=["30-second-limit", "day-limit", "template-not-approved", "number", "internal", "secret-id", "api-limit"],
)
def test_tencent_sorts_its_answers_for_the_outbox(gateway, answer, error):
    gateway.answer = answer
    with pytest.raises(error):
        TencentSMSBackend().send_message(MESSAGE)


def test_tencent_unreachable_is_transient(gateway, settings):
    settings.SMS_ENDPOINT = _closed_port()
    with pytest.raises(TransientChannelError):
        TencentSMSBackend().send_message(MESSAGE)


# --- Through the outbox and the sign-in codes -------------------------------------------------------------------


@pytest.mark.django_db
def test_the_outbox_sends_through_a_gateway_and_keeps_a_refusal_on_the_row(gateway, settings, clock):
    clock.set_local(10)  # an outbox SMS waits out the quiet hours (22:00-08:00 in Beijing)
    settings.SMS_BACKEND = "notifications.sms_gateways.AliyunSMSBackend"
    context = {"name": "李明", "activity": "义诊", "starts_at": "12月8日 09:00", "place": "东风村活动室"}
    gateway.answer = _aliyun("OK")
    sent = notify(template="projects_activity_reminder", channel="sms", phone=PHONE, dedupe_key="r:1", context=context)
    assert notification_dispatch(notification_id=sent.pk) is True
    params = json.loads({**gateway.requests[-1]["query"], **gateway.requests[-1]["body"]}["TemplateParam"])
    assert params == {"name": "李明", "activity": "义诊", "starts_at": "12月8日 09:00", "place": "东风村活动室"}
    gateway.answer = _aliyun("isv.SMS_TEMPLATE_ILLEGAL", "模板不合法")
    refused = notify(
        template="projects_activity_reminder", channel="sms", phone=PHONE, dedupe_key="r:2", context=context
    )
    notification_dispatch(notification_id=refused.pk)
    refused.refresh_from_db()
    assert refused.status == Notification.Status.FAILED and "isv.SMS_TEMPLATE_ILLEGAL" in refused.last_error


def test_a_sign_in_code_goes_as_its_template_with_the_code(gateway, settings):
    settings.SMS_BACKEND = "notifications.sms_gateways.TencentSMSBackend"
    gateway.answer = _tencent("Ok")
    sms_send_now(
        phone=PHONE, template="members_sign_in_code", context={"code": "654321", "minutes": 5}, reference="c:1"
    )
    assert gateway.requests[-1]["body"]["TemplateParamSet"] == ["654321", "5"]


def test_the_texts_to_submit_for_approval_name_the_variables_as_each_vendor_does(settings):
    settings.SMS_TEMPLATE_IDS = {"members_sign_in_code": "SMS_100001"}
    out = StringIO()
    call_command("sms_templates", stdout=out)
    text = out.getvalue()
    assert "members_sign_in_code\n  您的登录验证码是${code}，${minutes}分钟内有效。" in text  # the signature left out
    assert "members_invitation  (未配置 SMS_TEMPLATE_IDS)" in text
    out = StringIO()
    call_command("sms_templates", vendor="tencent", stdout=out)
    assert "您的登录验证码是{1}，{2}分钟内有效。" in out.getvalue()


# --- Delivery receipts ------------------------------------------------------------------------------------------

TOKEN = "r" * 40


def _sent_row(gateway, settings, dedupe_key: str, answer) -> Notification:
    """An outbox SMS sent through the gateway; the caller's clock is in the day (quiet hours hold an SMS back)."""
    gateway.answer = answer
    context = {"name": "李明", "activity": "义诊", "starts_at": "12月8日 09:00", "place": "东风村活动室"}
    row = notify(
        template="projects_activity_reminder", channel="sms", phone=PHONE, dedupe_key=dedupe_key, context=context
    )
    assert notification_dispatch(notification_id=row.pk) is True
    row.refresh_from_db()
    return row


def _push(client, vendor: str, payload, token: str = TOKEN):
    return client.post(f"/sms/receipts/{vendor}/{token}/", json.dumps(payload), content_type="application/json")


@pytest.mark.django_db
def test_an_aliyun_receipt_marks_its_rows_and_a_repeat_changes_nothing(client, gateway, settings, clock):
    clock.set_local(10)
    settings.SMS_BACKEND = "notifications.sms_gateways.AliyunSMSBackend"
    settings.SMS_RECEIPT_TOKEN = TOKEN
    got = _sent_row(gateway, settings, "reminder:1", (200, {"Code": "OK", "Message": "OK", "BizId": "900^1"}))
    lost = _sent_row(gateway, settings, "reminder:2", (200, {"Code": "OK", "Message": "OK", "BizId": "900^2"}))
    assert got.provider_message_id == "900^1"
    report = {"phone_number": "1391234****", "send_time": "2026-12-07 09:00:00", "sms_size": "1"}
    payload = [
        {**report, "report_time": "2026-12-07 09:00:05", "success": True, "err_code": "DELIVERED",
         "err_msg": "用户接收成功", "biz_id": "900^1", "out_id": "reminder:1"},
        {**report, "report_time": "2026-12-07 09:00:07", "success": False, "err_code": "MK:0001",
         "err_msg": "空号", "biz_id": "900^2", "out_id": "reminder:2"},
        {**report, "report_time": "2026-12-07 09:00:07", "success": True, "err_code": "DELIVERED",
         "err_msg": "", "biz_id": "1", "out_id": "another-system:1"},
    ]  # fmt: skip
    for _push_again in range(2):
        response = _push(client, "aliyun", payload)
        assert response.status_code == 200 and response.json() == {"code": 0, "msg": "接收成功"}
        got.refresh_from_db()
        lost.refresh_from_db()
        assert got.delivery == "delivered" and got.status == "sent" and got.delivery_error == ""
        assert got.delivered_at.isoformat() == "2026-12-07T01:00:05+00:00"  # 09:00:05 Beijing time
        assert lost.delivery == "undelivered" and lost.delivery_error == "MK:0001 空号"


@pytest.mark.django_db
def test_a_tencent_receipt_finds_its_rows_by_serial_number(client, gateway, settings, clock):
    clock.set_local(10)
    settings.SMS_BACKEND = "notifications.sms_gateways.TencentSMSBackend"
    settings.SMS_RECEIPT_TOKEN = TOKEN
    status, answer = _tencent("Ok")
    answer["Response"]["SendStatusSet"][0]["SerialNo"] = "2433:3340"
    row = _sent_row(gateway, settings, "reminder:3", (status, answer))
    assert row.provider_message_id == "2433:3340"
    payload = [
        {"user_receive_time": "2026-12-07 09:01:00", "nationcode": "86", "mobile": PHONE, "report_status": "FAIL",
         "errmsg": "MN:0001", "description": "用户关机", "sid": "2433:3340"},
    ]  # fmt: skip
    for _push_again in range(2):
        response = _push(client, "tencent", payload)
        assert response.status_code == 200 and response.json() == {"result": 0, "errmsg": "OK"}
        row.refresh_from_db()
        assert row.delivery == "undelivered" and row.delivery_error == "MN:0001 用户关机"
        assert row.delivered_at.isoformat() == "2026-12-07T01:01:00+00:00"


@pytest.mark.django_db
def test_a_receipt_without_the_secret_or_in_no_receipt_format_is_refused(client, settings):
    settings.SMS_RECEIPT_TOKEN = TOKEN
    assert _push(client, "aliyun", [], token="x" * 40).status_code == 404
    assert _push(client, "wechat", []).status_code == 404
    assert client.get(f"/sms/receipts/aliyun/{TOKEN}/").status_code == 405
    for body in ({"a": 1}, ["x"], "text"):
        response = _push(client, "tencent", body)
        assert response.status_code == 400 and response.json()["result"] == 1
    bad = client.post(f"/sms/receipts/aliyun/{TOKEN}/", b"\xff\x00", content_type="application/json")
    assert bad.status_code == 400
    settings.SMS_RECEIPT_TOKEN = ""
    assert _push(client, "aliyun", [], token="").status_code == 404


@pytest.mark.django_db
def test_a_throttled_message_is_retried_and_then_sent(gateway, settings, clock):
    settings.SMS_BACKEND = "notifications.sms_gateways.AliyunSMSBackend"
    gateway.answer = _aliyun("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1")
    context = {"name": "李明", "activity": "义诊", "starts_at": "12月8日 09:00", "place": "东风村活动室"}
    row = notify(template="projects_activity_reminder", channel="sms", phone=PHONE, dedupe_key="r:9", context=context)
    assert notification_dispatch(notification_id=row.pk) is False
    row.refresh_from_db()
    assert row.status == "pending" and "isv.BUSINESS_LIMIT_CONTROL" in row.last_error
    gateway.answer = (200, {"Code": "OK", "Message": "OK", "BizId": "77^1"})
    clock.advance(3600)
    assert notification_dispatch(notification_id=row.pk) is True
    row.refresh_from_db()
    assert row.status == "sent" and row.attempts == 2 and row.provider_message_id == "77^1"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("vendor", ["aliyun", "tencent"])
def test_a_sign_in_code_is_never_logged_in_clear(client, gateway, settings, caplog, vendor):
    """Through the page, the task and the vendor's SDK, everything logging at DEBUG: the code is in the SMS the
    gateway gets, in no log line."""
    from tests.members.factories import MemberFactory

    settings.SMS_BACKEND = f"notifications.sms_gateways.{vendor.capitalize()}SMSBackend"
    gateway.answer = _tencent("Ok") if vendor == "tencent" else _aliyun("OK")
    MemberFactory(phone=PHONE)
    with caplog.at_level(logging.DEBUG):
        assert client.post("/accounts/login/code/", {"phone": PHONE}).status_code == 302
        sent = gateway.requests[-1]
        if vendor == "tencent":
            code = sent["body"]["TemplateParamSet"][0]
        else:
            code = json.loads({**sent["query"], **sent["body"]}["TemplateParam"])["code"]
        assert re.fullmatch(r"\d{6}", code)
        assert client.post("/accounts/login/code/confirm/", {"code": code}).status_code == 302
    assert caplog.records  # the requests, the task and the SDK did log
    for record in caplog.records:
        assert code not in record.getMessage(), record.getMessage()
