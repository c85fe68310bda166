"""Text checks every service shares: control characters are refused with a clear message.

NUL and the other C0/C1 control characters cannot be stored in PostgreSQL text (NUL) or
shown sensibly (the rest); SQLite would store them silently. Tabs and line breaks pass.
"""

from __future__ import annotations

import re

from kb.errors import ValidationError

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def control_character_problem(text: str) -> tuple[str, int] | None:
    """(description, 1-based line) of the first control character in ``text``, or None."""
    match = _CONTROL.search(text)
    if match is None:
        return None
    code = ord(match.group(0))
    name = {0: " (NUL)", 0x7F: " (DEL)"}.get(code, "")
    line = text.count("\n", 0, match.start()) + 1
    return f"control character U+{code:04X}{name} is not allowed", line


def reject_control_characters(text: str, field: str) -> str:
    """``text`` unchanged, or a ValidationError naming the field and the character.

    Tabs and line breaks pass: single-line fields normalise their whitespace themselves."""
    problem = control_character_problem(text)
    if problem is not None:
        reason, line = problem
        raise ValidationError(
            reason if line == 1 else f"{reason} (line {line} of the text)", field=field
        )
    return text
