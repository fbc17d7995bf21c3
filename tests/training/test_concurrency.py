"""Seats and attendance under real concurrency: threads with their own PostgreSQL connections."""

import threading
from collections import Counter
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection

from incentives.models import LedgerEntry
from tests.members.factories import MemberFactory
from tests.training.conftest import move_to_past
from tests.training.factories import CourseFactory, SessionFactory
from training import services
from training.models import Enrollment, TrainingRecord

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_together(functions) -> Counter:
    """Start every function at the same moment in its own thread; count the outcomes ("ok" or the error's text)."""
    barrier = threading.Barrier(len(functions))
    outcomes: Counter = Counter()
    lock = threading.Lock()

    def run(function):
        try:
            barrier.wait()
            function()
            outcome = "ok"
        except ValidationError as exc:
            outcome = exc.messages[0]
        except Exception as exc:  # noqa: BLE001 - any other failure is a finding, reported by name
            outcome = f"{type(exc).__name__}: {exc}"
        finally:
            connection.close()  # each thread opened its own connection
        with lock:
            outcomes[outcome] += 1

    threads = [threading.Thread(target=run, args=(f,)) for f in functions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_twenty_members_press_enroll_at_once_for_five_seats(org_tree):
    session = SessionFactory(organizer=org_tree.branch_a, capacity=5)
    members = MemberFactory.create_batch(20, organization=org_tree.branch_a)

    outcomes = run_together([lambda m=m: services.enrollment_create(session=session, member=m) for m in members])

    assert outcomes == Counter({"ok": 5, "该场次名额已满。": 15})
    assert Enrollment.objects.filter(session=session, status=Enrollment.Status.ENROLLED).count() == 5


def test_one_member_pressing_enroll_ten_times_gets_one_seat(org_tree, member_a):
    session = SessionFactory(organizer=org_tree.branch_a, capacity=5)

    outcomes = run_together([lambda: services.enrollment_create(session=session, member=member_a)] * 10)

    assert outcomes == Counter({"ok": 1, "您已报名该场次。": 9})
    assert Enrollment.objects.filter(session=session).count() == 1


def test_attendance_submitted_at_once_makes_one_record_and_one_entry_each(clock, org_tree, secretary_a):
    session = SessionFactory(course=CourseFactory(hours=Decimal(2)), organizer=org_tree.branch_a, capacity=10)
    members = MemberFactory.create_batch(4, organization=org_tree.branch_a)
    for member in members:
        services.enrollment_create(session=session, member=member)
    move_to_past(clock, session)
    ids = [m.pk for m in members]

    outcomes = run_together(
        [lambda: services.attendance_record(session=session, attended=ids, absent=[], actor=secretary_a)] * 6
    )

    assert outcomes == Counter({"ok": 6})
    assert TrainingRecord.objects.filter(session=session).count() == 4
    assert sorted(LedgerEntry.objects.values_list("member_id", "points")) == sorted((m.pk, 10) for m in members)
