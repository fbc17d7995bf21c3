"""Factories of the training tests. They create through `training.services`, so test data obeys the real rules."""

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from training import services
from training.models import Course, TrainingSession


def tomorrow_at(hour: int = 9):
    return (timezone.localtime() + timedelta(days=1)).replace(hour=hour, minute=0, second=0, microsecond=0)


class CourseFactory(factory.django.DjangoModelFactory):
    """A platform-wide two-hour theory course without expiry."""

    class Meta:
        model = Course

    type = Course.Type.THEORY
    title = factory.Sequence(lambda n: f"党的创新理论学习第{n}讲")
    hours = Decimal("2.00")
    description = "学习党的二十大精神"
    validity_months = None
    organization = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.course_save(course=model_class(**kwargs), actor=None)


class SessionFactory(factory.django.DjangoModelFactory):
    """A session of a new course tomorrow 9:00–11:00 at the branch's activity room, 30 seats."""

    class Meta:
        model = TrainingSession

    course = factory.SubFactory(CourseFactory)
    organizer = None  # required: pass the organizing organization
    starts_at = factory.LazyFunction(tomorrow_at)
    ends_at = factory.LazyAttribute(lambda o: o.starts_at + timedelta(hours=2))
    capacity = 30
    place = "党群服务中心二楼会议室"
    online_url = ""

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.session_schedule(actor=None, **kwargs)
