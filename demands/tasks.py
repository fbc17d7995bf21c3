"""Celery tasks of the demands app: thin wrappers around services, safe to run twice (each wish moves once, under
its lock). Step 7 schedules them with django-celery-beat."""

from celery import shared_task

from . import services


@shared_task
def expire_overdue_wishes() -> int:
    """Published wishes past their claim deadline → expired (grid leader and secretaries are told)."""
    return services.wishes_expire_overdue()


@shared_task
def remind_feedback() -> int:
    """One reminder to residents who have not rated a wish fulfilled WISH_FEEDBACK_REMINDER_DAYS ago."""
    return services.wishes_remind_feedback()


@shared_task
def auto_close_unconfirmed_wishes() -> int:
    """Fulfilled wishes without the resident's answer for WISH_FEEDBACK_DAYS → closed unconfirmed."""
    return services.wishes_auto_close_unconfirmed()


@shared_task
def purge_wish_contacts() -> int:
    """Erase residents' personal data of wishes finished more than WISH_CONTACT_RETENTION_DAYS ago."""
    return services.wishes_purge_contacts()


# --- Beat entries (volunteer_platform/schedules.py) ---


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
