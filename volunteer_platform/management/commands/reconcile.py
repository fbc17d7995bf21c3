"""manage.py reconcile [--org ID] [--fix]: every derived figure recomputed from the records (volunteer_platform/
reconcile.py); each disagreement printed with its member and cause. Exit status 1 when any is left."""

import time

from django.core.management.base import BaseCommand, CommandError

from core.db import replica_reads
from members.models import Organization
from volunteer_platform import reconcile


class Command(BaseCommand):
    help = (
        "Recompute balances, the points of every record, training record, wish and commendation, star ratings, the "
        "yearly summaries and the dashboard from the records and the ledger; print each disagreement. --fix repairs "
        "what a service can (new ledger entries, recomputed caches; the ledger is never edited)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--org", type=int, help="only the members and the dashboard of this organization's subtree")
        parser.add_argument("--fix", action="store_true", help="repair through the services, then check again")
        parser.add_argument("--chunk", type=int, default=reconcile.CHUNK, help="members checked per round")
        parser.add_argument("--quiet", action="store_true", help="no progress lines")

    def handle(self, *args, org=None, fix=False, chunk=reconcile.CHUNK, quiet=False, **options):
        organization = None
        if org is not None:
            organization = Organization.objects.filter(pk=org).first()
            if organization is None:
                raise CommandError(f"no organization with id {org}")
        if chunk < 1:
            raise CommandError("--chunk must be at least 1")
        started = time.monotonic()
        # Checking only, the replica's copy will do (it is consistent, if seconds old); repairs read the primary.
        check = reconcile.run if fix else replica_reads()(reconcile.run)
        report = check(
            organization=organization,
            fix=fix,
            chunk=chunk,
            progress=None if quiet else (lambda line: self.stderr.write(line)),
        )
        for disagreement in report.disagreements:
            self.stdout.write(disagreement.line())
        elapsed = time.monotonic() - started
        summary = (
            f"{report.members} members checked, {len(report.disagreements)} disagreement(s)"
            + (f", {report.fixed} repaired" if fix else "")
            + f" in {elapsed:.1f} s"
        )
        if report.disagreements:
            self.stdout.write(self.style.ERROR(summary))
            raise SystemExit(1)
        self.stdout.write(self.style.SUCCESS(summary))
