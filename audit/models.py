from django.conf import settings
from django.contrib.admin.models import LogEntry
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from core.times import MINUTE, SECOND, format_local


class AuditEvent(models.Model):
    """One security-relevant event: who, from which address, when, what, on which object. Written only by
    `audit.services.audit_record`; never edited or deleted through the application (the admin is read-only)."""

    class Action(models.TextChoices):
        LOGIN = "login", _("登录")
        LOGIN_FAILED = "login_failed", _("登录失败")
        LOCKOUT = "lockout", _("登录被暂停")
        LOGOUT = "logout", _("退出登录")
        PERMISSION_DENIED = "permission_denied", _("拒绝访问")
        CSRF_FAILURE = "csrf_failure", _("CSRF 校验失败")
        EXPORT = "export", _("导出")
        FULL_DATA_VIEW = "full_data_view", _("查看完整个人信息")
        ADMIN_CHANGE = "admin_change", _("后台修改")
        SESSIONS_ENDED = "sessions_ended", _("结束会话")
        PASSWORD_RESET = "password_reset", _("用短信验证码重设密码")

    created_at = models.DateTimeField(_("时间"), auto_now_add=True)
    action = models.CharField(_("事件"), max_length=30, choices=Action.choices)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("用户"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    # The name at the time (the account may be renamed or deleted later). For a failed sign-in, what was typed:
    # masked (138****1234, 张**) unless it is an account's username, and its keyed hash, by which the attempts of
    # one identifier are found (audit.sign_in) — the identifier itself may be a member's phone or ID number.
    username = models.CharField(_("用户名"), max_length=150, blank=True)
    username_hash = models.CharField(_("用户名散列"), max_length=64, blank=True)
    ip = models.GenericIPAddressField(_("IP 地址"), null=True, blank=True)
    method = models.CharField(_("请求方法"), max_length=10, blank=True)
    path = models.CharField(_("路径"), max_length=300, blank=True)
    object_type = models.CharField(_("对象类型"), max_length=100, blank=True)
    object_id = models.CharField(_("对象编号"), max_length=64, blank=True)
    object_repr = models.CharField(_("对象"), max_length=200, blank=True)
    detail = models.JSONField(_("详情"), default=dict, blank=True)
    # The admin's own log row an ADMIN_CHANGE event copies (unique: a change is copied once, even if two requests
    # of the same user overlap).
    admin_log_entry = models.OneToOneField(
        LogEntry, verbose_name=_("后台日志"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("审计记录")
        verbose_name_plural = _("审计记录")
        ordering = ["-created_at", "-pk"]
        indexes = [
            # The admin's list: newest first, optionally filtered by event, user or address.
            models.Index(fields=["created_at"], name="audit_event_time"),
            models.Index(fields=["action", "created_at"], name="audit_event_action_time"),
            models.Index(fields=["user", "created_at"], name="audit_event_user_time"),
            models.Index(fields=["ip", "created_at"], name="audit_event_ip_time"),
            # The admin's search for the attempts of one typed identifier (a phone typed in full).
            models.Index(fields=["username_hash"], name="audit_event_username_hash", condition=~Q(username_hash="")),
        ]

    def __str__(self):
        return f"{format_local(self.created_at, SECOND)} {self.get_action_display()} {self.username}"


class UserSession(models.Model):
    """A session key a user signed in with, so that every session of a user can be ended at once (deactivation)
    whatever the session backend. Rows older than the session age are pruned when the user signs in again."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("登录会话")
        verbose_name_plural = _("登录会话")
        # user_sessions_end: every session of one user.
        indexes = [models.Index(fields=["user", "created_at"], name="audit_session_user_time")]

    def __str__(self):
        return f"{self.user_id} {format_local(self.created_at, MINUTE)}"


class ApiToken(models.Model):
    """A device's sign-in to the JSON API (a mini-program, an H5 page, an app): what a session is to the site.

    Only the SHA-256 of the token is stored; the token itself is shown once, when it is issued. A token lives until
    `expires_at`, until it is rotated (the new one replaces it) or revoked (from /me/, by the device itself, or with
    every session of the user: `user_sessions_end`)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    device = models.CharField(_("设备"), max_length=60, blank=True)
    created_at = models.DateTimeField(_("登录时间"), auto_now_add=True)
    expires_at = models.DateTimeField(_("有效期至"))
    last_used_at = models.DateTimeField(_("最近使用"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("注销时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("接口令牌")
        verbose_name_plural = _("接口令牌")
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")), name="api_token_expires_after_created"
            )
        ]
        # The /me/ page's list of a user's signed-in devices, and revoking them all.
        indexes = [models.Index(fields=["user", "created_at"], name="audit_api_token_user_time")]

    def __str__(self):
        return f"{self.user_id} {self.device} {format_local(self.created_at, MINUTE)}"
