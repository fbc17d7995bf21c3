"""Reads that may go to a streaming read replica (docs/deploy.md, "Primary and replica").

Nothing goes to the replica unless it is configured (DATABASE_REPLICA_URL adds the `replica` alias and this router)
and the code asked for it: a view or task wraps its reading in `replica_reads()` (a context manager and a decorator).
Even then a read goes to the primary when

- the person wrote a moment ago (`ReadYourWritesMiddleware` pins their requests for REPLICA_STICKY_SECONDS), or
  something was written inside the same block or request (the scope sees every INSERT, UPDATE, DELETE sent to the
  primary), or a transaction is open on the primary;
- the replica lags more than REPLICA_MAX_LAG_SECONDS, does not stream from the primary, or does not answer: checked
  at most once per REPLICA_CHECK_SECONDS per process (`replica_state`), so a replica that went away costs one short
  connect attempt (its connect_timeout), not one per query.

Used as a decorator, `replica_reads` runs its function once more on the primary when the replica fails under it
before anything was written (the replica stopped between two checks): a page never answers 500 for it.
"""

from __future__ import annotations

import contextvars
import functools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from typing import Any, ParamSpec, TypeVar

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, Error, connections

REPLICA = "replica"
P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class _Scope:
    replica: bool = False  # inside replica_reads()
    pinned: bool = False  # the person wrote a moment ago, or the code asked for the primary
    wrote: bool = False  # an INSERT, UPDATE or DELETE went to the primary in this scope
    used_replica: bool = False  # a read was sent to the replica (so a database error may be the replica's)
    parent: _Scope | None = field(default=None, repr=False)


_scope: contextvars.ContextVar[_Scope | None] = contextvars.ContextVar("replica_scope", default=None)


def replica_configured() -> bool:
    return REPLICA in connections.settings


# What a write looks like on the wire: the scope learns of every statement sent to the primary, ORM or raw, and only
# these change data (the router's db_for_write would not do: get_or_create() asks it before only reading).
_WRITES = ("INSERT", "UPDATE", "DELETE", "MERGE", "COPY", "TRUNCATE")


def _note_writes(execute: Callable, sql: str, params: Any, many: bool, context: dict) -> Any:
    scope = _scope.get()
    if scope is not None and not scope.wrote and sql.lstrip()[:8].upper().startswith(_WRITES):
        scope.wrote = True
    return execute(sql, params, many, context)


@contextmanager
def _entered(**changes: bool) -> Iterator[_Scope]:
    parent = _scope.get()
    scope = _Scope(
        replica=parent.replica if parent else False,
        pinned=parent.pinned if parent else False,
        wrote=parent.wrote if parent else False,
        parent=parent,
    )
    for name, value in changes.items():
        setattr(scope, name, value)
    token = _scope.set(scope)
    try:
        if replica_configured():
            with connections[DEFAULT_DB_ALIAS].execute_wrapper(_note_writes):
                yield scope
        else:
            yield scope
    finally:
        _scope.reset(token)
        if parent is not None:  # what happened inside counts outside: a write pins the rest of the request
            parent.wrote = parent.wrote or scope.wrote
            parent.used_replica = parent.used_replica or scope.used_replica


class _ReplicaReads:
    """`with replica_reads():` or `@replica_reads()`: the ORM reads inside may go to the replica."""

    def __enter__(self) -> _Scope:
        self._context = _entered(replica=True)
        return self._context.__enter__()

    def __exit__(self, *exc: Any) -> None:
        self._context.__exit__(*exc)

    def __call__(self, function: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(function)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
            with _entered(replica=True) as scope:
                try:
                    return function(*args, **kwargs)
                except Error:
                    if not scope.used_replica or scope.wrote:
                        raise
                    if replica_state(force=True).usable:
                        raise  # the replica answers: the error was not its going away
            # The replica went away under the function: once more, on the primary.
            with _entered(replica=True, pinned=True):
                return function(*args, **kwargs)

        return wrapper


def replica_reads() -> _ReplicaReads:
    """Mark reads that may see data a few seconds old (figures, exports, reports, reconcile without --fix)."""
    return _ReplicaReads()


@contextmanager
def request_scope(*, pinned: bool) -> Iterator[None]:
    """A request's scope (core.middleware.ReadYourWritesMiddleware): `pinned` when the person wrote a moment ago."""
    with _entered(pinned=pinned):
        yield


def scope_wrote() -> bool:
    scope = _scope.get()
    return scope is not None and scope.wrote


# --- The replica's state, checked at most once per REPLICA_CHECK_SECONDS per process ------------------------------

# The replay lag in seconds: 0 when everything received is replayed (a quiet primary is not "lag", though the last
# replayed transaction gets old), else the age of the last replayed transaction. And whether WAL is streaming now:
# a replica cut off from its primary replays nothing new and would answer 0 forever.
LAG_SQL = """
SELECT
  pg_is_in_recovery(),
  CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
       ELSE COALESCE(EXTRACT(EPOCH FROM now() - pg_last_xact_replay_timestamp()), 0) END,
  EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming')
"""


@dataclass(frozen=True)
class ReplicaState:
    status: str  # "ok" | "lagging" | "not_streaming" | "not_a_replica" | "unreachable" | "absent"
    lag_seconds: float | None = None
    detail: str = ""
    checked_at: float = 0.0  # time.monotonic()

    @property
    def usable(self) -> bool:
        return self.status == "ok"


_state: ReplicaState | None = None
_state_lock = threading.Lock()


def forget_replica_state() -> None:
    """The next read checks the replica again (tests; a deploy script after a fail-over)."""
    global _state
    _state = None


def replica_state(*, force: bool = False) -> ReplicaState:
    """The replica's state as this process last saw it, checked again when older than REPLICA_CHECK_SECONDS.
    Never raises: a replica that does not answer is "unreachable" (its exception's class in `detail`, never the
    message, which may hold a host name)."""
    global _state
    if not replica_configured():
        return ReplicaState("absent")
    state = _state
    if not force and state is not None and time.monotonic() - state.checked_at < settings.REPLICA_CHECK_SECONDS:
        return state
    with _state_lock:
        state = _state
        if not force and state is not None and time.monotonic() - state.checked_at < settings.REPLICA_CHECK_SECONDS:
            return state
        _state = state = _check()
    return state


def _check() -> ReplicaState:
    now = time.monotonic()
    connection = connections[REPLICA]
    try:
        if connection.connection is not None and not connection.is_usable():
            connection.close()
        with connection.cursor() as cursor:
            cursor.execute(LAG_SQL)
            in_recovery, lag, streaming = cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "unreachable", and the reason is reported
        with suppress(Exception):  # closing a dead connection may fail too
            connection.close()  # a broken connection is not kept for the next check
        return ReplicaState("unreachable", detail=exc.__class__.__name__, checked_at=now)
    lag = round(float(lag), 3)
    if not in_recovery:
        return ReplicaState("not_a_replica", lag_seconds=0.0, checked_at=now)
    if not streaming:
        return ReplicaState("not_streaming", lag_seconds=lag, checked_at=now)
    if lag > settings.REPLICA_MAX_LAG_SECONDS:
        return ReplicaState("lagging", lag_seconds=lag, checked_at=now)
    return ReplicaState("ok", lag_seconds=lag, checked_at=now)


# --- The router ---------------------------------------------------------------------------------------------------


class ReplicaRouter:
    """Installed only with a replica (settings: DATABASE_ROUTERS). Writes always go to the primary (and are noted
    in the current scope by `_note_writes`); a read goes to the replica only inside replica_reads(), unpinned, with
    nothing written in the scope, no transaction open on the primary, and the replica usable."""

    def db_for_read(self, model: Any, **hints: Any) -> str | None:
        scope = _scope.get()
        if scope is None or not scope.replica or scope.pinned or scope.wrote:
            return None
        if connections[DEFAULT_DB_ALIAS].in_atomic_block or not replica_configured():
            return None
        if not replica_state().usable:
            return None
        scope.used_replica = True
        return REPLICA

    def db_for_write(self, model: Any, **hints: Any) -> str | None:
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool | None:
        # The replica holds the primary's rows: an object read from one may point at one read from the other.
        if {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA}:
            return True
        return None

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool | None:
        return False if db == REPLICA else None


__all__ = [
    "REPLICA",
    "ReplicaRouter",
    "ReplicaState",
    "forget_replica_state",
    "replica_configured",
    "replica_reads",
    "replica_state",
    "request_scope",
    "scope_wrote",
]
