"""Encryption at rest for personal data (phone numbers, ID numbers, sensitive tags).

Shared infrastructure (core): notifications (a resident's phone for SMS) and every app above it store such data.
Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under `FIELD_ENCRYPTION_KEYS`, a list whose
first key encrypts and all keys decrypt — so a key is rotated by putting a new key first, re-saving the
rows and then removing the old key. Exact-match lookup uses a separate keyed HMAC column (`blind_index`),
because equal plaintexts give different ciphertexts.
"""

import hashlib
import hmac
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models


@cache
def _fernet() -> MultiFernet:
    keys = settings.FIELD_ENCRYPTION_KEYS
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty")
    return MultiFernet([Fernet(k) for k in keys])


def encrypt(value: str) -> str:
    return _fernet().encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured("An encrypted value cannot be read with FIELD_ENCRYPTION_KEYS") from exc


def blind_index(value: str) -> str:
    """A keyed hash for exact-match lookup of an encrypted value (normalise the value before calling)."""
    return hmac.new(settings.FIELD_HMAC_KEY.encode(), value.encode(), hashlib.sha256).hexdigest()


def mask_phone(phone: str) -> str:
    """138****1234 — how a phone number appears to anyone without the right to see it in full."""
    if len(phone) < 7:
        return "*" * len(phone)
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"


class EncryptedTextField(models.TextField):
    """A text column stored encrypted; Python code sees the plaintext. Not searchable: pair it with a blind index."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(value)


def encrypted_columns() -> list[tuple[type[models.Model], models.Field]]:
    """Every (model, field) stored with EncryptedTextField in any installed app, history tables included."""
    from django.apps import apps

    return [
        (model, field)
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if isinstance(field, EncryptedTextField)
    ]


def reencrypt_all(*, batch: int = 500) -> dict[str, int]:
    """Re-encrypt every encrypted value under the first of FIELD_ENCRYPTION_KEYS (MultiFernet.rotate: decrypted
    with whichever key still opens it, encrypted with the first), so the old keys can then be removed. Works on
    the stored tokens in SQL, table by table, each table in one transaction; returns the values re-encrypted per
    column. Safe to run again (a token already under the first key is rewritten under it once more)."""
    from django.db import connection, transaction

    fernet = _fernet()
    done: dict[str, int] = {}
    for model, field in encrypted_columns():
        table = connection.ops.quote_name(model._meta.db_table)
        column = connection.ops.quote_name(field.column)
        pk = connection.ops.quote_name(model._meta.pk.column)
        count = 0
        last = None
        with transaction.atomic(), connection.cursor() as cursor:
            while True:  # batches in key order, so a large table is never held in memory at once
                after = "" if last is None else f"AND {pk} > %s"
                # Table and column names come from the models and are quoted; values are parameters.
                cursor.execute(
                    f"SELECT {pk}, {column} FROM {table} WHERE {column} <> '' {after} ORDER BY {pk} LIMIT {int(batch)}",
                    [] if last is None else [last],
                )
                rows = cursor.fetchall()
                if not rows:
                    break
                updates = [(fernet.rotate(token.encode()).decode(), key) for key, token in rows]
                cursor.executemany(f"UPDATE {table} SET {column} = %s WHERE {pk} = %s", updates)
                count += len(updates)
                last = rows[-1][0]
        done[f"{model._meta.label}.{field.name}"] = count
    return done
