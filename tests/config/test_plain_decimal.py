"""Hours and points in messages are written once, by core.text.plain_decimal, as a person writes them."""

from decimal import Decimal

import pytest

from core.text import plain_decimal


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("2.00"), "2"),
        (Decimal("10"), "10"),
        (Decimal("100.0"), "100"),
        (Decimal("1.50"), "1.5"),
        (Decimal("0.25"), "0.25"),
        (Decimal("0"), "0"),
        (None, ""),
    ],
)
def test_a_number_is_written_without_trailing_zeros_or_an_exponent(value, text):
    assert plain_decimal(value) == text
