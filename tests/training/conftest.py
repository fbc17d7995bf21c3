"""A few training helpers (the personas are the suite's: tests/personas.py)."""

from datetime import timedelta
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from tests.training.factories import CourseFactory, SessionFactory
from training import services
from training.models import TrainingSession

PDF = b"%PDF-1.4\n%%EOF\n"


def move_to_past(clock, session: TrainingSession, *, ago: timedelta = timedelta(minutes=1)) -> TrainingSession:
    """Time passes (the clock moves): the session started `ago` before now (attendance opens on the session's day)."""
    clock.now = session.starts_at + ago
    return session


@pytest.fixture
def this_year() -> int:
    return timezone.localdate().year


def admin_scene(org_tree, member_a, member_b) -> SimpleNamespace:
    """What the training admin shows, on each side (`a`: branch A and member A, `b`: branch B and member B), keyed
    by the admin's model names: a course, a session with the member enrolled, the member's external record and the
    branch's annual requirement; and a platform course (test_admin.py, and once per module in
    test_admin_table.py)."""
    sides = {}
    for side, branch, member in (("a", org_tree.branch_a, member_a), ("b", org_tree.branch_b, member_b)):
        course = CourseFactory(organization=branch)
        session = SessionFactory(course=course, organizer=branch)
        services.enrollment_create(session=session, member=member)
        sides[side] = {
            "course": course,
            "trainingsession": session,
            "trainingrecord": services.external_training_record(
                member=member,
                course=course,
                hours=1,
                completed_on=timezone.localdate(),
                evidence=SimpleUploadedFile("c.pdf", PDF),
                actor=None,
            ),
            "annualrequirement": services.requirement_set(
                organization=branch, year=timezone.localdate().year, total_hours=Decimal(10), actor=None
            ),
        }
    return SimpleNamespace(a=sides["a"], b=sides["b"], platform_course=CourseFactory())
