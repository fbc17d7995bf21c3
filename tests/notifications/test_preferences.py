"""Preferences: a person chooses email and SMS per kind of message; in-app is always on."""

import pytest
from django.urls import reverse

from notifications.kinds import KINDS, get_kind
from notifications.models import Notification, NotificationPreference
from notifications.selectors import channels_for, preferences_for
from notifications.services import Message, notify, notify_many, preferences_save, user_messages
from tests.factories import UserFactory
from tests.queries import assert_get_queries

PAGE = reverse("notifications:preferences")
PHONE = "13900001111"


def test_every_kind_has_a_chinese_label_and_valid_defaults():
    assert {"activity_reminder", "wish_update", "training", "feedback", "points", "work", "digest"} <= set(KINDS)
    for kind in KINDS.values():
        assert str(kind.label)
        assert kind.default_channels <= {"email", "sms"}
    with pytest.raises(ValueError, match="unknown notification kind"):
        get_kind("activity")


def test_without_a_choice_the_kinds_defaults_apply(member_user):
    assert channels_for(member_user.pk, "activity_reminder") == {"email", "sms"}
    assert channels_for(member_user.pk, "digest") == {"email"}
    assert channels_for(member_user.pk, "feedback") == frozenset()


def test_saved_choices_win_and_other_kinds_keep_their_state(member_user):
    preferences_save(user=member_user, choices={"activity_reminder": ["email"], "feedback": {"sms", "inapp"}})
    preferences_save(user=member_user, choices={"activity_reminder": []})

    prefs = preferences_for(member_user)
    assert prefs["activity_reminder"] == frozenset()
    assert prefs["feedback"] == {"sms"}  # naming in-app changes nothing
    assert prefs["training"] == KINDS["training"].default_channels
    assert NotificationPreference.objects.filter(user=member_user).count() == 2


@pytest.mark.parametrize(
    "choices", [{"nonsense": ["email"]}, {"training": ["fax"]}], ids=["unknown kind", "unknown channel"]
)
def test_saving_something_unknown_writes_nothing(member_user, choices):
    with pytest.raises(ValueError):
        preferences_save(user=member_user, choices={"digest": [], **choices})
    assert not NotificationPreference.objects.exists()


# --- notify(kind=…) ---------------------------------------------------------------------------------------------


def send(user, channel, kind="training", key=None):
    return notify(
        template="welcome",
        channel=channel,
        dedupe_key=key or f"pref:{channel}",
        user=user,
        phone=PHONE if channel == "sms" else "",
        kind=kind,
    )


def test_opted_out_channels_are_not_written_and_in_app_always_is(member_user):
    preferences_save(user=member_user, choices={"training": []})

    assert send(member_user, "email") is None
    assert send(member_user, "sms") is None
    inapp = send(member_user, "inapp")

    assert list(Notification.objects.values_list("channel", "kind")) == [("inapp", "training")]
    assert inapp.kind == "training"


def test_chosen_channels_are_written(member_user):
    preferences_save(user=member_user, choices={"digest": ["sms"]})

    assert send(member_user, "sms", kind="digest") is not None
    assert send(member_user, "email", kind="digest") is None


def test_a_resident_or_a_message_without_kind_is_not_filtered(member_user):
    preferences_save(user=member_user, choices={"training": []})

    assert send(member_user, "email", kind=None) is not None
    assert notify(template="welcome", channel="sms", dedupe_key="resident", phone=PHONE, kind="training") is not None


def test_unknown_kind_is_refused_up_front(member_user):
    with pytest.raises(ValueError, match="unknown notification kind"):
        send(member_user, "inapp", kind="traning")
    assert not Notification.objects.exists()


# --- notify_many ------------------------------------------------------------------------------------------------


def test_notify_many_drops_what_each_user_opted_out_of(db):
    default, quiet, no_email = UserFactory(), UserFactory(), UserFactory(email="")
    preferences_save(user=quiet, choices={"training": []})

    messages = []
    for user in (default, quiet, no_email):
        messages += user_messages(
            user_id=user.pk,
            kind="training",
            template="welcome",
            dedupe_key=f"many:{user.pk}",
            context={"name": user.username},
            has_email=bool(user.email),
            phone=PHONE,
        )

    assert notify_many(messages) == 6
    written = set(Notification.objects.values_list("recipient_user", "channel"))
    assert written == {
        (default.pk, "inapp"),
        (default.pk, "email"),
        (default.pk, "sms"),
        (quiet.pk, "inapp"),
        (no_email.pk, "inapp"),
        (no_email.pk, "sms"),
    }
    assert set(Notification.objects.values_list("dedupe_key", flat=True)) >= {f"many:{default.pk}:sms"}


def test_user_messages_only_use_the_channels_a_template_has(member_user):
    # incentives_rating_published has a subject and a body, but no SMS text.
    messages = user_messages(
        user_id=member_user.pk,
        kind="points",
        template="incentives_rating_published",
        dedupe_key="k",
        context={},
        has_email=True,
        phone=PHONE,
    )
    assert [m.channel for m in messages] == ["inapp", "email"]


def test_notify_many_refuses_the_whole_batch_when_one_message_is_unusable(member_user):
    good = Message(template="welcome", channel="inapp", dedupe_key="good", user_id=member_user.pk)
    bad = Message(template="welcome", channel="sms", dedupe_key="bad", user_id=member_user.pk)  # no phone

    with pytest.raises(ValueError, match="needs a phone"):
        notify_many([good, bad])
    assert not Notification.objects.exists()


# --- The page ---------------------------------------------------------------------------------------------------


def test_page_needs_sign_in(client):
    response = client.get(PAGE)

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_page_shows_the_defaults_and_in_app_always_on(client, member_user):
    client.force_login(member_user)

    response = client.get(PAGE)

    assert response.status_code == 200
    content = response.content.decode()
    assert "通知设置" in content
    for kind in KINDS.values():
        assert str(kind.label) in content
    assert 'name="activity_reminder-sms" id="id_activity_reminder-sms" checked' in content
    assert 'name="feedback-sms" id="id_feedback-sms">' in content
    assert 'id="training-inapp" checked disabled' in content


def test_saving_the_page_stores_every_kind_and_shows_the_new_state(client, member_user):
    client.force_login(member_user)

    response = client.post(PAGE, {"training-email": "on", "digest-sms": "on"}, follow=True)

    assert response.redirect_chain == [(PAGE, 302)]
    assert "通知设置已保存" in response.content.decode()
    prefs = preferences_for(member_user)
    assert prefs["training"] == {"email"}
    assert prefs["digest"] == {"sms"}
    assert prefs["activity_reminder"] == frozenset()
    assert NotificationPreference.objects.filter(user=member_user).count() == len(KINDS)
    assert 'name="digest-sms" id="id_digest-sms" checked' in response.content.decode()


def test_the_inbox_links_to_the_preferences(client, member_user):
    client.force_login(member_user)

    response = client.get(reverse("notifications:inbox"))

    assert f'href="{PAGE}"' in response.content.decode()


def test_page_query_count_does_not_grow_with_saved_preferences(client, member_user):
    client.force_login(member_user)
    # user, the user's preferences (one query for every kind); the session comes from the cache
    assert_get_queries(client, PAGE, 2)
    preferences_save(user=member_user, choices={key: ["email"] for key in KINDS})
    assert_get_queries(client, PAGE, 2)
