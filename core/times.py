"""Times as a person sees them: in the site's time zone (settings.TIME_ZONE, Asia/Shanghai).

Django hands out aware datetimes in UTC (from the database) or in whatever zone they were made in (from a form);
an f-string, strftime or `.date()` on one prints that zone — from the database, eight hours early and sometimes the
day before. Everything that turns a datetime into text or a date for a person (`__str__`, exports, messages,
certificates) goes through these helpers. Templates need none: `{{ value|date }}` already converts. iCalendar is the
one exception: it keeps UTC with a `Z`, which each calendar shows in its own zone.
"""

from datetime import date, datetime
from typing import overload

from django.utils import timezone

DATE = "%Y-%m-%d"
MINUTE = "%Y-%m-%d %H:%M"
SECOND = "%Y-%m-%d %H:%M:%S"


@overload
def local(value: datetime) -> datetime: ...
@overload
def local(value: None) -> None: ...
def local(value: datetime | None) -> datetime | None:
    """`value` in the site's time zone; None stays None, and a naive datetime is taken as already local."""
    if value is None or timezone.is_naive(value):
        return value
    return timezone.localtime(value)


def local_date(value: datetime | date | None) -> date | None:
    """The local calendar day of `value` (a date is already one); None stays None."""
    if isinstance(value, datetime):
        return local(value).date()
    return value


def format_local(value: datetime | date | None, fmt: str = MINUTE) -> str:
    """`value` written with `fmt` (strftime) in the site's time zone; '' for None. A date is written as it is."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = local(value)
    return value.strftime(fmt)


def local_iso(value: datetime | date | None) -> str | None:
    """ISO 8601 for a JSON download: a datetime with the local offset (2026-12-11T02:30:00+08:00), a date as it
    is; None stays None."""
    if isinstance(value, datetime):
        value = local(value)
    return value.isoformat() if value is not None else None


def local_naive(value: datetime | None) -> datetime | None:
    """The local wall time without a zone, for a spreadsheet cell: Excel has no time zones (openpyxl refuses an
    aware datetime) and a reader expects the time on their clock."""
    value = local(value)
    return value.replace(tzinfo=None) if value is not None else None
