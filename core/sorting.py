"""Names in the order people count them: 第一网格, 第二网格 … 第十网格, 第十一网格; 2号楼 before 10号楼.

A string sort puts 第三 before 第二 (三 U+4E09 < 二 U+4E8C) and 10 before 2. `natural_key` reads each run of Arabic
digits or Chinese numerals (一 … 九, 十, 百, 千, 零/〇, 两) as its number, so the sort compares numbers where the names
have them and text elsewhere.
"""

import re

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}
_NUMBER = re.compile(r"\d+|[零〇一二两三四五六七八九十百千]+")


def chinese_number(text: str) -> int:
    """The value of a Chinese numeral below 万: 十一 → 11, 二十 → 20, 一百零五 → 105; 一〇五 (digit by digit) → 105."""
    if not any(ch in _UNITS for ch in text):
        value = 0
        for ch in text:
            value = value * 10 + _DIGITS[ch]
        return value
    total, digit = 0, None
    for ch in text:
        if ch in _DIGITS:
            digit = _DIGITS[ch]
        else:
            total += (1 if digit is None else digit) * _UNITS[ch]
            digit = None
    return total + (digit or 0)


def natural_key(name: str) -> tuple:
    """A sort key for `name`: text parts compare as text, number parts (Arabic or Chinese) as numbers."""
    key: list = []
    position = 0
    for match in _NUMBER.finditer(name):
        key.append((0, name[position : match.start()], 0))
        run = match.group()
        key.append((1, "", int(run) if run.isdigit() else chinese_number(run)))
        position = match.end()
    key.append((0, name[position:], 0))
    return tuple(key)
