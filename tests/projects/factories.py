"""Factories of the projects tests. They create through `projects.services`, so test data obeys the real rules."""

from datetime import timedelta

import factory
from django.utils import timezone

from projects import services
from projects.models import Activity, ProjectCategory, ServiceProject


def days_ahead_at(days: int = 3, hour: int = 9):
    return (timezone.localtime() + timedelta(days=days)).replace(hour=hour, minute=0, second=0, microsecond=0)


class ProjectFactory(factory.django.DjangoModelFactory):
    """A published, one-off 助老 project of the given organization (pass `organization`)."""

    class Meta:
        model = ServiceProject

    slug = factory.Sequence(lambda n: f"project-{n}")
    title = factory.Sequence(lambda n: f"银龄关爱{n}")
    brand_name = "银龄关爱"
    slogan = "让老人不孤单"
    category = factory.LazyFunction(lambda: ProjectCategory.objects.get_or_create(name="助老")[0])
    service_mode = ServiceProject.Mode.DIRECT
    target_groups = 0
    organization = None
    place = "幸福社区党群服务中心"
    description = "上门陪伴空巢老人，帮助打扫卫生、读报聊天。"
    status = ServiceProject.Status.PUBLISHED

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        skills = kwargs.pop("skills_wanted", None)
        return services.project_save(project=model_class(**kwargs), actor=None, skills_wanted=skills)


class ActivityFactory(factory.django.DjangoModelFactory):
    """An activity of a new project in three days, 9:00–11:00, 10 seats, sign-up open now and free cancellation
    until a day before (pass `project` or `project__organization`)."""

    class Meta:
        model = Activity

    project = factory.SubFactory(ProjectFactory)
    starts_at = factory.LazyFunction(days_ahead_at)
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(hours=2))
    capacity = 10

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.activity_create(**kwargs)
