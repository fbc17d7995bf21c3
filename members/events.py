"""What the members app tells the apps above it, which it may not import (DESIGN.md: layers).

Each event is a typed hook: the members services call `send(...)` inside the transaction that made the change, and a
higher app connects its handler in its `AppConfig.ready()`. A handler runs in that same transaction, so the change
and what follows from it (points for the hours, ratings) happen together or not at all, and an exception in a
handler undoes the change. Every hook of this app is listed here; a handler is a plain function a reader can find by
name (`grep record_counted_changed`).

Connected today:
- `record_counted_changed` ← incentives.apps.IncentivesConfig.ready: `incentives.services.record_points_sync`
  (the service-hour points of the record) and the member's star ratings not yet final.

The one registration the other way, for the floor below: `core.member_cache.accounts_of_members` ← members/receivers.py
(loaded by MembersConfig.ready), how core's member page cache finds the accounts of members it is told changed.
Nothing else is connected by settings strings or import_string (the SMS backend, a deployment choice, aside).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from .models import ServiceRecord

E = TypeVar("E")


class Hook(Generic[E]):
    """An ordered list of handlers of one kind of event, called synchronously, in the caller's transaction."""

    def __init__(self, name: str):
        self.name = name
        self._handlers: list[Callable[[E], None]] = []

    def connect(self, handler: Callable[[E], None]) -> None:
        """Add `handler` once (connecting the same function again — a second `ready()` — changes nothing)."""
        if handler not in self._handlers:
            self._handlers.append(handler)

    def disconnect(self, handler: Callable[[E], None]) -> None:
        if handler in self._handlers:
            self._handlers.remove(handler)

    @property
    def handlers(self) -> tuple[Callable[[E], None], ...]:
        return tuple(self._handlers)

    def send(self, event: E) -> None:
        for handler in self._handlers:
            handler(event)

    def __repr__(self) -> str:
        return f"<Hook {self.name}: {len(self._handlers)} handler(s)>"


@dataclass(frozen=True)
class RecordCountedChanged:
    """A service record started or stopped counting, or its counted hours changed: verified (or imported from
    elsewhere, counted), corrected, voided.

    `record` is the row as saved, locked by the sending transaction; `actor` is the user who made the change."""

    record: ServiceRecord
    actor: object | None
    change: str  # "verified" | "corrected" | "voided"


record_counted_changed: Hook[RecordCountedChanged] = Hook("members.record_counted_changed")
