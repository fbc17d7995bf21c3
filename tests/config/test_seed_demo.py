import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command


@pytest.mark.django_db
def test_seed_demo_if_empty_leaves_an_existing_database_alone():
    User = get_user_model()
    User.objects.create_user(username="someone", password="x" * 12)
    call_command("seed_demo", "--if-empty")
    assert list(User.objects.values_list("username", flat=True)) == ["someone"]
