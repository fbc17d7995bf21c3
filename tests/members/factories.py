"""Factories of the members app. They create through the services, so test data obeys the same rules as real data
(paths, hashes, volunteer numbers); use them with `Factory(...)` or `Factory.create_batch(n, ...)`."""

import itertools
from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from members import services
from members.models import Community, Grid, Member, Organization, ServiceRecord, Tag
from tests.factories import UserFactory

_phones = itertools.count(13800000001)


def next_phone() -> str:
    """A fresh, valid mainland mobile number (138…)."""
    return str(next(_phones))


class OrganizationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"第{n}党支部")
    type = Organization.Type.BRANCH
    parent = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.organization_create(actor=None, **kwargs)


class CommunityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Community

    name = factory.Sequence(lambda n: f"幸福{n}社区")
    organization = factory.SubFactory(OrganizationFactory)


class GridFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Grid

    name = factory.Sequence(lambda n: f"第{n}网格")
    community = factory.SubFactory(CommunityFactory)


class TagFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tag
        django_get_or_create = ("kind", "name")

    kind = Tag.Kind.SKILL
    name = factory.Sequence(lambda n: f"特长{n}")


class MemberFactory(factory.django.DjangoModelFactory):
    """A member with an account whose password is tests.factories.DEFAULT_PASSWORD."""

    class Meta:
        model = Member

    name = factory.Sequence(lambda n: f"张{'一二三四五六七八九十'[n % 10]}{n}")
    phone = factory.LazyFunction(next_phone)
    organization = factory.SubFactory(OrganizationFactory)
    user = factory.SubFactory(UserFactory)

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.member_create(actor=None, **kwargs)


class ServiceRecordFactory(factory.django.DjangoModelFactory):
    """A pending two-hour manual record of yesterday morning, recorded by the member's branch."""

    class Meta:
        model = ServiceRecord

    member = factory.SubFactory(MemberFactory)
    start = factory.LazyFunction(
        lambda: (timezone.localtime() - timedelta(days=1)).replace(hour=9, minute=0, second=0, microsecond=0)
    )
    end = factory.LazyAttribute(lambda o: o.start + timedelta(hours=2))
    hours = Decimal("2.00")
    place = "社区活动中心"
    content = "为空巢老人打扫卫生"
    source = ServiceRecord.Source.MANUAL
    recording_organization = factory.LazyAttribute(lambda o: o.member.organization)
    organizer = "李书记"
    recorder = None

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        return services.service_record_create(**kwargs)
