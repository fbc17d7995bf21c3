"""Service projects (品牌项目): saving one, its logo re-encoded."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils.translation import gettext as _

from core import public_cache
from core.types import Actor
from members.models import Tag

from ..models import ServiceProject
from ..validators import clean_logo


def check_project(*, project: ServiceProject) -> None:
    """The rules of a project's fields a CHECK cannot state, shared by the admin form (clean) and `project_save`."""
    errors = {}
    if project.grid_id is not None and project.community_id is not None:
        if project.grid is not None and project.grid.community_id != project.community_id:
            errors["grid"] = _("网格不在所选社区（村）内。")
    elif project.grid_id is not None:
        errors["community"] = _("选择网格时请同时选择社区（村）。")
    if project.recurrence != ServiceProject.Recurrence.NONE:
        missing = [
            f
            for f in ("recurrence_weekday", "recurrence_time", "recurrence_minutes", "recurrence_capacity")
            if not getattr(project, f) and getattr(project, f) != 0
        ]
        for name in missing:
            errors[name] = _("重复的项目需要填写此项。")
        if project.recurrence == ServiceProject.Recurrence.MONTHLY and not (1 <= (project.recurrence_week or 0) <= 4):
            errors["recurrence_week"] = _("每月重复的项目需要填写第几周（1–4）。")
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def project_save(
    *, project: ServiceProject, actor: Actor, skills_wanted: Iterable[Tag] | None = None
) -> ServiceProject:
    """Create or change a project (the admin's form fills the instance).

    No lock: a project row is changed by its organizers only. Invariants: the CHECKs (recurrence complete, known
    mode and groups) and `check_project`; a newly uploaded logo is stored only as the PNG `clean_logo` re-encoded.
    """
    public_cache.changed("projects")  # the public project pages show it (core/public_cache.py)
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
