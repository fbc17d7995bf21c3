"""Every forbidden transition of the micro-wish state machine: a clear message and no change.

One wish in each state is made once for the module (the street and the scene: tests/personas.py, street_with); each
case runs in a savepoint and reads its wish afresh, so what one case did never reaches the next.
"""

from types import SimpleNamespace

import pytest
from django.core.exceptions import ValidationError

from demands import services
from demands.models import MicroWish, WishEvent
from notifications.models import Notification
from tests.demands.factories import feedback_token, fulfil, verify, wish_in_state
from tests.members.factories import MemberFactory
from tests.personas import street_with

pytestmark = pytest.mark.django_db

ALL_STATES = [s.value for s in MicroWish.State]


def _token_or_dummy(wish):
    try:
        return feedback_token(wish)
    except (AttributeError, KeyError, IndexError):
        return "no-such-token"


OPERATIONS = {
    "verify": (["submitted"], lambda w, c: verify(w, c.secretary)),
    "publish": (["verified", "expired"], lambda w, c: services.wish_publish(wish=w, actor=c.secretary)),
    "reject": (
        ["submitted", "verified", "published", "expired"],
        lambda w, c: services.wish_reject(wish=w, actor=c.secretary, reason="不符合条件"),
    ),
    "withdraw": (["submitted", "verified", "published", "expired"], lambda w, c: services.wish_withdraw(wish=w)),
    "claim": (["published"], lambda w, c: services.wish_claim(wish=w, member=c.other)),
    "release": (["claimed"], lambda w, c: services.wish_release(wish=w, member=c.member)),
    "fulfil": (["claimed"], lambda w, c: fulfil(w, c.member)),
    "rate": (["fulfilled"], lambda w, c: services.wish_rate(token=_token_or_dummy(w), rating=5)),
    "not_yet": (["fulfilled"], lambda w, c: services.wish_report_unfulfilled(token=_token_or_dummy(w))),
    "confirm_service": (["confirmed"], lambda w, c: services.wish_confirm_service(wish=w, actor=c.secretary)),
    "invite": (["published"], lambda w, c: services.wish_invite(wish=w, member=c.other, actor=c.secretary)),
}
FORBIDDEN = [(op, state) for op, (allowed, _f) in OPERATIONS.items() for state in ALL_STATES if state not in allowed]


def _scene(street):
    """A wish in every state in community A, each claimed (where its state needs it) by a member of its own, so no
    member reaches the limit of open claims; and another member of branch A."""
    tree = street.org_tree
    claimers = {state: MemberFactory(organization=tree.branch_a) for state in ALL_STATES}
    return SimpleNamespace(
        wishes={
            state: wish_in_state(state, tree.community_a, street.secretary_a, claimers[state]) for state in ALL_STATES
        },
        claimers=claimers,
        other=MemberFactory(organization=tree.branch_a),
    )


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker):
    with street_with(django_db_blocker, _scene) as street:
        yield street


@pytest.mark.parametrize(("operation", "state"), FORBIDDEN, ids=[f"{o}-from-{s}" for o, s in FORBIDDEN])
def test_forbidden_transition_changes_nothing(world, operation, state):
    wish = MicroWish.objects.get(pk=world.scene.wishes[state].pk)
    before = MicroWish.objects.filter(pk=wish.pk).values().get()
    n_events, n_notifications = WishEvent.objects.count(), Notification.objects.count()
    ctx = SimpleNamespace(secretary=world.secretary_a, member=world.scene.claimers[state], other=world.scene.other)

    with pytest.raises(ValidationError) as exc:
        OPERATIONS[operation][1](wish, ctx)

    assert exc.value.messages and all(m.strip() for m in exc.value.messages)
    assert MicroWish.objects.filter(pk=wish.pk).values().get() == before
    assert (WishEvent.objects.count(), Notification.objects.count()) == (n_events, n_notifications)
