"""Service projects (品牌项目): saving one, its logo re-encoded."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from core.types import Actor
from members.models import Tag

from ..models import ServiceProject
from ..validators import check_project, clean_logo


@transaction.atomic
def project_save(
    *, project: ServiceProject, actor: Actor, skills_wanted: Iterable[Tag] | None = None
) -> ServiceProject:
    """Create or change a project (the admin's form fills the instance).

    No lock: a project row is changed by its organizers only. Invariants: the CHECKs (recurrence complete, known
    mode and groups) and `check_project`; a newly uploaded logo is stored only as the PNG `clean_logo` re-encoded.
    """
    check_project(project=project)
    if project.logo and isinstance(getattr(project.logo, "file", None), UploadedFile):
        try:
            cleaned = clean_logo(project.logo.file)
        except ValidationError as exc:
            raise ValidationError({"logo": exc.messages}) from None
        project.logo.save(cleaned.name, cleaned, save=False)
    if project.recurrence == ServiceProject.Recurrence.NONE:
        project.recurrence_weekday = project.recurrence_week = project.recurrence_time = None
        project.recurrence_minutes = project.recurrence_capacity = None
    elif project.recurrence == ServiceProject.Recurrence.WEEKLY:
        project.recurrence_week = None
    if project.pk is None:
        project.created_by = actor
    project.title = project.title.strip()
    project.save()
    if skills_wanted is not None:
        project.skills_wanted.set(list(skills_wanted))
    return project
