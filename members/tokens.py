"""The invitation token: a signed, expiring, single-use link that lets a new member set their first password.

No table: like Django's password-reset token, the token is an HMAC of the account's state, so it dies by itself
when that state changes. Setting the password changes `user.password` (used once), and deactivating the account
changes `is_active`; after `timeout` the timestamp inside the token is too old.
"""

from datetime import timedelta

from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.crypto import constant_time_compare
from django.utils.http import base36_to_int


class InvitationTokenGenerator(PasswordResetTokenGenerator):
    # Its own salt: a password-reset token is never accepted as an invitation, nor the reverse.
    key_salt = "members.tokens.InvitationTokenGenerator"
    # A member may read the SMS days later; independent of PASSWORD_RESET_TIMEOUT (3 days by default).
    timeout = int(timedelta(days=14).total_seconds())

    def check_token(self, user, token) -> bool:
        """Django's check with `self.timeout` instead of settings.PASSWORD_RESET_TIMEOUT."""
        if not (user and token):
            return False
        try:
            ts_b36, _hash = token.split("-")
            timestamp = base36_to_int(ts_b36)
        except ValueError:
            return False
        if not any(
            constant_time_compare(self._make_token_with_timestamp(user, timestamp, secret), token)
            for secret in (self.secret, *self.secret_fallbacks)
        ):
            return False
        return self._num_seconds(self._now()) - timestamp <= self.timeout

    def _make_hash_value(self, user, timestamp):
        return f"{super()._make_hash_value(user, timestamp)}{user.is_active}"


invitation_token_generator = InvitationTokenGenerator()
