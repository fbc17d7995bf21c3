"""Asking for the same report many times at once (a double click, two secretaries of one committee): one report is
pending, built once. Threads with their own PostgreSQL connections."""

from collections import Counter

import pytest

from tests.training.test_concurrency import run_together
from volunteer_platform import services
from volunteer_platform.models import Report

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def test_ten_requests_at_once_make_one_pending_report_queued_once(org_tree, secretary_a, monkeypatch):
    queued: list[int] = []
    monkeypatch.setattr(services, "_publish_report_build", queued.append)  # count the tasks instead of building
    ask = {"organization": org_tree.branch_a, "kind": "annual", "year": 2025, "quarter": 0, "requested_by": secretary_a}

    outcomes = run_together([lambda: services.report_request(**ask)] * 10)

    assert outcomes == Counter({"ok": 10})
    report = Report.objects.get()
    assert report.status == Report.Status.PENDING
    assert queued == [report.pk]
