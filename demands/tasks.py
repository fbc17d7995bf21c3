"""The scheduled work of the demands app (volunteer_platform/schedules.py): thin wrappers around services, safe to
run twice (each wish moves once, under its lock)."""

from celery import shared_task

from . import services


@shared_task
def escalate_wishes() -> int:
    """Hourly 督办: unverified 48 h → secretaries; unclaimed past the deadline → expired; claimed 7 / 14 days →
    the claimer / the secretaries. Expired wishes plus messages written; a rerun writes nothing new."""
    return services.wishes_escalate()


@shared_task
def process_wish_feedback() -> int:
    """Hourly: auto-close fulfilled wishes unanswered for WISH_FEEDBACK_DAYS, then the one feedback reminder."""
    return services.wishes_process_feedback()


@shared_task
def purge_resident_contacts() -> int:
    """Daily: erase residents' personal data of long-finished wishes, and their phones from the SMS outbox."""
    return services.wishes_purge_resident_data()
