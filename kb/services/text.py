"""Text checks every service shares: control characters are refused with a clear message.

NUL and the other C0/C1 control characters cannot be stored in PostgreSQL text (NUL) or
shown sensibly (the rest); SQLite would store them silently. Tabs and line breaks pass.
"""

from __future__ import annotations

import re

from kb.errors import ValidationError
from kb.i18n import N_, Text

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_character_problem(text: str) -> tuple[Text, int] | None:
    """(description, 1-based line) of the first control character in ``text``, or None."""
    match = _CONTROL.search(text)
    if match is None:
        return None
    code = ord(match.group(0))
    name = {0: " (NUL)", 0x7F: " (DEL)"}.get(code, "")
    line = text.count("\n", 0, match.start()) + 1
    return Text(N_("control character %(code)s is not allowed"), code=f"U+{code:04X}{name}"), line


def reject_control_characters(text: str, field: str) -> str:
    """``text`` unchanged, or a ValidationError naming the field and the character.

    Tabs and line breaks pass: single-line fields normalise their whitespace themselves."""
    problem = control_character_problem(text)
    if problem is not None:
        reason, line = problem
        code = reason.params["code"]
        if line == 1:
            raise ValidationError(N_("control character %(code)s is not allowed"), field=field,
                                  code=code)  # fmt: skip
        raise ValidationError(
            N_("control character %(code)s is not allowed (line %(number)s of the text)"),
            field=field,
            code=code,
            number=line,
        )
    return text
