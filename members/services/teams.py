"""服务队: teams of members of one organisation's subtree."""

from collections.abc import Iterable

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from core.types import Actor

from ..models import Member, Organization, Team
from ..validators import check_team_members
from ._common import _lock


@transaction.atomic
def team_create(
    *,
    organization: Organization,
    name: str,
    actor: Actor,
    leader: Member | None = None,
    members: Iterable[Member] = (),
    description: str = "",
) -> Team:
    """Create a 服务队. Invariants: unique name in the organization; leader is a member of the team; everyone
    belongs to the organization's subtree. No lock: the UNIQUE (organization, name) settles a race."""
    people = check_team_members(organization=organization, leader=leader, members=members)
    if Team.objects.filter(organization=organization, name=name.strip()).exists():
        raise ValidationError({"name": _("该组织已有同名服务队。")})
    team = Team.objects.create(organization=organization, name=name.strip(), leader=leader, description=description)
    team.members.set(people)
    return team


@transaction.atomic
def team_update(
    *,
    team: Team,
    actor: Actor,
    name: str,
    leader: Member | None,
    members: Iterable[Member],
    description: str = "",
) -> Team:
    """Change a team's name, leader and members. Lock: the team row. Invariants: as `team_create`."""
    team = _lock(Team, team.pk)
    people = check_team_members(organization=team.organization, leader=leader, members=members)
    if Team.objects.filter(organization=team.organization, name=name.strip()).exclude(pk=team.pk).exists():
        raise ValidationError({"name": _("该组织已有同名服务队。")})
    team.name = name.strip()
    team.leader = leader
    team.description = description
    team.save()
    team.members.set(people)
    return team
