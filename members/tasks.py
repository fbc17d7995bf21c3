"""Scheduled work of the members app (volunteer_platform/schedules.py): thin tasks that take ids and call a service."""

import logging

from celery import shared_task

from core.crypto import decrypt
from notifications.channels import PermanentChannelError, TransientChannelError

from . import services
from .services import national as national_services

logger = logging.getLogger(__name__)


@shared_task
def plan_service_cards() -> int:
    return services.service_cards_plan()


@shared_task
def send_service_cards(ids: list[int], year: int, quarter: int) -> int:
    return services.service_cards_send(organization_ids=ids, year=year, quarter=quarter)


@shared_task
def national_export(organization_id: int, period_start: str, period_end: str, actor_id: int) -> int | None:
    """An export batch a secretary asked for in the admin (members.services.national.national_export_queue)."""
    from datetime import date

    batch = national_services.national_export_run(
        organization_id=organization_id,
        period_start=date.fromisoformat(period_start),
        period_end=date.fromisoformat(period_end),
        actor_id=actor_id,
    )
    return batch.pk if batch is not None else None


@shared_task
def rebuild_service_years() -> list[int]:
    return services.service_years_rebuild_due()


@shared_task(bind=True, max_retries=3, default_retry_delay=10)
def send_sign_in_code(self, code_id: int, sealed: str) -> bool:
    """Text a sign-in or password-reset code (members.services.sign_in_codes); `sealed` is the code encrypted with
    core.crypto, so the broker never holds it readable. A transient gateway error is retried while the code still
    works; a permanent one (a refused number) is logged and the member asks again."""
    try:
        return services.sign_in_code_deliver(code_id=code_id, code=decrypt(sealed))
    except TransientChannelError as exc:
        raise self.retry(exc=exc) from exc
    except PermanentChannelError:
        logger.warning("the SMS of sign-in code %s was refused by the gateway", code_id, exc_info=True)
        return False


@shared_task
def create_sign_in_code(sealed_phone: str, purpose: str) -> bool:
    """Make and text a code if an active account has the number (members.services.sign_in_code_request); the number
    is sealed with core.crypto in the task's arguments. True when a code was made."""
    return services.sign_in_code_send(phone=decrypt(sealed_phone), purpose=purpose) is not None
