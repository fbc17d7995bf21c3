"""How something a person typed is shown outside its encrypted home (the audit trail, log lines): masked.

Used for the identifier typed at a failed sign-in, which may be a phone number, an ID number, someone's name — or a
password typed into the wrong box. The shape is the one people know from every list of the platform: a long number
keeps its first three and last four characters (138****1234), any other text its first character (张**).
"""

import re

_SEPARATORS = re.compile(r"[\s\-()（）]")
# A phone (11 digits, maybe +86 before it) or an ID number (17 digits and a digit or X): long enough that the first
# three and the last four leave most of it hidden. Shorter numbers show one character, like any text.
_LONG_NUMBER = re.compile(r"\+?\d{10,}[\dXx]")


def mask_identifier(text: str, *, public: bool = False) -> str:
    """`text` masked for reading: 138****1234, 110***********123X, 张**, s** ("" stays "").

    `public`: the text is known to be a public name (an account's username, such as a volunteer number), shown as
    it is — unless it is a long number, as an account named after a phone would be.
    """
    text = (text or "").strip()
    if not text:
        return ""
    compact = _SEPARATORS.sub("", text)
    if _LONG_NUMBER.fullmatch(compact):
        return compact[:3] + "*" * (len(compact) - 7) + compact[-4:]
    return text if public else text[0] + "**"
