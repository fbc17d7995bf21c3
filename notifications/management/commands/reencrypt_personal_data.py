"""Re-encrypt personal data under the newest key, the middle step of a key rotation (docs/security.md, item 5):
put a new key first in FIELD_ENCRYPTION_KEYS and restart, run this command, then remove the old key and restart."""

from django.core.management.base import BaseCommand

from core.crypto import reencrypt_all


class Command(BaseCommand):
    help = "Re-encrypt every encrypted column under the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        for column, count in reencrypt_all().items():
            self.stdout.write(f"{column}: {count}")
        self.stdout.write(self.style.SUCCESS("Every encrypted value is now under the first key."))
