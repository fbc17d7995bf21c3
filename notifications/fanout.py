"""Fan-out: one kind of message to many recipients, in chunks, without one huge task.

A planner task selects the recipients and calls `plan`, which walks their ids in ascending order by keyset
ranges (`WHERE pk > last ORDER BY pk LIMIT chunk`: each step is an index range scan, however far it has gone) and
publishes one chunk task per range, carrying the ids. The chunk task re-checks its ids against the selection
(time has passed since the plan) and writes its messages with `services.notify_many`. Every message has a dedupe
key, so a rerun of the planner — twice by beat, by hand, after a crash — or of one chunk writes nothing new.

The chunk task is named, not imported: the planner of a higher app (training, projects) plans its own chunk task
through this lower module without an upward import.
"""

from importlib import import_module

from celery import current_app
from django.db.models import QuerySet

DEFAULT_CHUNK = 500


def chunk_task(task_name: str):
    """The registered Celery task `task_name` ("app.tasks.function"), importing its module when needed."""
    if task_name not in current_app.tasks:
        import_module(task_name.rpartition(".")[0])
    return current_app.tasks[task_name]


def plan(task_name: str, queryset: QuerySet, *, chunk: int = DEFAULT_CHUNK, kwargs: dict | None = None) -> int:
    """Publish `task_name(ids=[…], **kwargs)` for each run of up to `chunk` primary keys of `queryset`, in
    ascending order; return the number of chunks.

    `queryset` is the selection (any model); only its primary keys are read, one query per chunk. `kwargs` must
    be JSON values (they travel in the task message). A publishing failure propagates: the planner's task fails,
    and its next run plans again, writing only what is still missing. Chunks are published at once, not after a
    commit: call it from a task (outside a transaction), so a chunk never looks for rows not yet committed.
    """
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    task = chunk_task(task_name)
    ids = queryset.order_by("pk").values_list("pk", flat=True)
    chunks = 0
    last = None
    while True:
        page = list((ids if last is None else ids.filter(pk__gt=last))[:chunk])
        if not page:
            return chunks
        task.delay(ids=page, **(kwargs or {}))
        chunks += 1
        last = page[-1]
