"""Factories for the test personas and objects. Later steps add theirs here (or in tests/<app>/factories.py)."""

import factory
from django.contrib.auth import get_user_model

DEFAULT_PASSWORD = "test-pass-123"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password(DEFAULT_PASSWORD)
