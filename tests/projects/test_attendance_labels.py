"""The attendance sheet's buttons say 已到 / 缺席 once, in the row of the member they belong to; the member's name
is in each button's accessible name, for a screen reader that reads the button alone."""

import re

import pytest
from django.urls import reverse

from projects import services
from tests.projects.conftest import started_ago
from tests.projects.factories import ActivityFactory

pytestmark = pytest.mark.django_db


def test_the_buttons_say_attended_or_no_show_and_name_the_member_to_assistive_technology(
    clock, client, org_tree, secretary_a, member_a
):
    activity = ActivityFactory(project__organization=org_tree.branch_a)
    signup = services.signup_create(activity=activity, member=member_a)
    started_ago(clock, activity)
    client.force_login(secretary_a)
    html = client.get(reverse("projects:attendance", args=[activity.pk])).content.decode()

    labels = {
        key: re.sub(r"\s+", " ", text).strip()
        for key, text in re.findall(r'<label class="btn[^"]*" for="([a-z-]+)-\d+">(.*?)</label>', html, re.S)
    }
    assert labels == {"attended": "已到", "no-show": "缺席"}
    for key, word in (("attended", "已到"), ("no-show", "缺席")):
        radio = re.search(rf'<input type="radio"[^>]*id="{key}-{signup.pk}"[^>]*>', html, re.S).group()
        assert f'aria-label="{member_a.name} {word}"' in radio
