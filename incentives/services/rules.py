"""The points rules: a platform admin changes their numbers."""

from decimal import Decimal

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from core.types import Actor

from ..models import Rule
from ..validators import check_rule
from ._common import _is_platform_admin


@transaction.atomic
def rule_update(
    *,
    rule: Rule,
    actor: Actor,
    points: int,
    cap_per_source: int | None,
    leader_multiplier: Decimal,
    min_quantity: Decimal | None,
    active: bool,
    description: str = "",
) -> Rule:
    """A platform admin changes a rule's numbers; entries already written keep their points. The change is in the
    rule's history, attributed to the actor. Lock: the rule row."""
    if not _is_platform_admin(actor):
        raise PermissionDenied(_("积分规则只能由平台管理员修改。"))
    check_rule(leader_multiplier=leader_multiplier, min_quantity=min_quantity)
    rule = Rule.objects.select_for_update().get(pk=rule.pk)
    rule.points = points
    rule.cap_per_source = cap_per_source
    rule.leader_multiplier = leader_multiplier
    rule.min_quantity = min_quantity
    rule.active = active
    rule.description = description
    rule._history_user = actor  # type: ignore[attr-defined]  # simple_history reads it; the model declares no such field
    rule.save()
    return rule
