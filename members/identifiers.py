"""Normalisation and validation of the personal identifiers the members app stores (mobile and ID numbers).

Both are normalised before they are encrypted and hashed, so that the blind index of the same number written two
ways (`138 0013 8000`, `+86 13800138000`) is the same and exact lookup works.
"""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

_MOBILE_RE = re.compile(r"^1[3-9]\d{9}$")
_SEPARATORS_RE = re.compile(r"[\s\-()（）]")
_ID_RE = re.compile(r"^\d{17}[\dX]$")
# GB 11643-1999: weights of the first 17 digits and the check character for each remainder mod 11.
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"
# The national system's 志愿者统一编号 (MZ/T 061-2015 names the element; the public sources read for this platform do
# not give its layout, see docs/national-exchange.md): taken as 6 to 32 letters and digits, upper case, which every
# number seen in the national system's certificates fits. Only this shape is checked; the number is never derived.
_NATIONAL_NUMBER_RE = re.compile(r"^[0-9A-Z]{6,32}$")


def looks_like_mobile(value: str) -> bool:
    """True when `value` is a mainland mobile number in any usual spelling (for search boxes)."""
    try:
        normalize_mobile(value)
    except ValidationError:
        return False
    return True


def looks_like_id_number(value: str) -> bool:
    """True when `value` is a valid resident ID number (for search boxes)."""
    try:
        normalize_id_number(value)
    except ValidationError:
        return False
    return True


def normalize_mobile(value: str) -> str:
    """The 11-digit mainland mobile number in `value`; spaces, dashes and a +86/0086 prefix are dropped."""
    digits = _SEPARATORS_RE.sub("", value or "")
    for prefix in ("+86", "0086"):
        if digits.startswith(prefix):
            digits = digits[len(prefix) :]
            break
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not _MOBILE_RE.match(digits):
        raise ValidationError(_("请输入11位中国大陆手机号码。"), code="invalid_mobile")
    return digits


def normalize_id_number(value: str) -> str:
    """An 18-character resident ID number in upper case, its check character verified (GB 11643)."""
    number = _SEPARATORS_RE.sub("", value or "").upper()
    if not _ID_RE.match(number):
        raise ValidationError(_("身份证号码应为18位（最后一位可以是X）。"), code="invalid_id_number")
    total = sum(int(digit) * weight for digit, weight in zip(number[:17], _ID_WEIGHTS, strict=True))
    if _ID_CHECK[total % 11] != number[17]:
        raise ValidationError(_("身份证号码校验位不正确，请核对。"), code="invalid_id_number")
    return number


def normalize_national_volunteer_number(value: str) -> str:
    """The national 志愿者统一编号 in `value`, upper case, separators dropped: 6 to 32 letters or digits ('' stays)."""
    number = _SEPARATORS_RE.sub("", value or "").upper()
    if number and not _NATIONAL_NUMBER_RE.match(number):
        raise ValidationError(_("全国志愿者统一编号应为6到32位字母或数字。"), code="invalid_national_volunteer_number")
    return number
