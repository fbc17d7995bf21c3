"""The organisation tree: creating, changing and moving organisations, and their administrators."""

from collections.abc import Iterable

from django.db import transaction
from django.db.models import Value
from django.db.models.functions import Concat, Substr
from django.utils.translation import gettext as _

from core.types import Actor

from ..models import Member, Organization
from ..validators import (
    check_organization_name,
    check_organization_placement,
    check_secretaries_stay_inside,
    check_secretary,
)
from ._common import _audit, _ensure_staff, _lock


@transaction.atomic
def organization_create(
    *,
    name: str,
    type: str,
    actor: Actor,
    parent: Organization | None = None,
    contact_name: str = "",
    contact_phone: str = "",
) -> Organization:
    """Create an organization under `parent` (None: a new root).

    Lock: the parent row, so a concurrent move of the parent cannot leave the child with a stale path.
    Invariant: path = parent.path + own id; the placement rules of `check_organization_placement`.
    """
    if parent is not None:
        parent = _lock(Organization, parent.pk)
    check_organization_placement(type=type, parent=parent)
    check_organization_name(name=name, parent=parent)
    organization = Organization(
        parent=parent, name=name.strip(), type=type, contact_name=contact_name, contact_phone=contact_phone
    )
    _audit(organization, actor, _("创建组织"))
    organization.save()
    # The path needs the id, which exists only now; `path` is left out of the history (it is derived).
    organization.path = f"{parent.path if parent else ''}{organization.pk:06d}."
    Organization.objects.filter(pk=organization.pk).update(path=organization.path)
    return organization


@transaction.atomic
def organization_update(
    *,
    organization: Organization,
    actor: Actor,
    name: str,
    type: str,
    secretary: Member | None,
    contact_name: str = "",
    contact_phone: str = "",
    count_external_hours: bool | None = None,
) -> Organization:
    """Change an organization's own fields (not its place in the tree: `organization_move`).

    Lock: the organization row. Invariants: placement rules for the type; the secretary belongs to the subtree and
    can enter the admin (staff).
    """
    organization = _lock(Organization, organization.pk)
    check_organization_placement(type=type, parent=organization.parent, organization=organization)
    check_organization_name(name=name, parent=organization.parent, organization=organization)
    check_secretary(organization=organization, secretary=secretary)
    organization.name = name.strip()
    organization.type = type
    organization.secretary = secretary
    organization.contact_name = contact_name
    organization.contact_phone = contact_phone
    if count_external_hours is not None:
        # Applies to records imported from now on (members.services.national); those kept already stay as they are.
        organization.count_external_hours = count_external_hours
    _audit(organization, actor, _("修改组织信息"))
    organization.save()
    if secretary is not None:
        _ensure_staff(secretary.user)
    return organization


@transaction.atomic
def organization_move(*, organization: Organization, new_parent: Organization | None, actor: Actor) -> Organization:
    """Move an organization, with its whole subtree, under `new_parent` (None: make it a root).

    Locks: the organization and the new parent, in id order (no deadlock with a concurrent opposite move); the
    UPDATE of the subtree then locks the descendants' rows. Rows are re-read under the lock, so a path changed by a
    concurrent move is seen. Invariants: every descendant's path starts with its ancestors' paths; no cycle; no
    organization left behind loses its secretary to the moved subtree.
    """
    ids = sorted({organization.pk} | ({new_parent.pk} if new_parent else set()))
    locked = {o.pk: o for o in Organization.objects.select_for_update().filter(pk__in=ids).order_by("pk")}
    organization = locked[organization.pk]
    new_parent = locked[new_parent.pk] if new_parent else None
    if organization.parent_id == (new_parent.pk if new_parent else None):
        return organization
    check_organization_placement(type=organization.type, parent=new_parent, organization=organization)
    check_organization_name(name=organization.name, parent=new_parent, organization=organization)
    old_path = organization.path
    new_path = f"{new_parent.path if new_parent else ''}{organization.pk:06d}."
    check_secretaries_stay_inside(members_path=old_path, new_path=new_path)
    organization.parent = new_parent
    organization.path = new_path
    _audit(organization, actor, _("调整上级组织"))
    organization.save()
    Organization.objects.filter(path__startswith=old_path).update(
        path=Concat(Value(new_path), Substr("path", len(old_path) + 1))
    )
    return organization


@transaction.atomic
def organization_set_admins(*, organization: Organization, users: Iterable, actor: Actor) -> None:
    """Replace the organization's 组织管理员.

    Lock: the organization row. Invariant: every admin is staff, so the scope they are given is usable.
    """
    organization = _lock(Organization, organization.pk)
    users = list(users)
    _audit(organization, actor, _("调整组织管理员"))
    organization.admins.set(users)
    for user in users:
        _ensure_staff(user)
