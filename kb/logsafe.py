"""What may reach a log line: no query string, no e-mail address, no exception message.

Query strings carry search words and e-mail addresses; exception messages can quote a note
(an SQL error shows its parameters); a malformed request line is whatever a client sent.
Every log path of the web server (Flask, werkzeug, gunicorn) runs its text through here.
"""

from __future__ import annotations

import re
import traceback

_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"")
_QUERY = re.compile(r"\?[^\s'\"]*")
_EMAIL = re.compile(r"[^\s@'\"<>()\[\],;:]+@[^\s@'\"<>()\[\],;:]+")


def strip_query(text: str) -> str:
    """``text`` without query strings (``/search?q=x`` -> ``/search``)."""
    return _QUERY.sub("", text)


def scrub(text: str) -> str:
    """A log message with quoted client input, query strings and e-mail addresses removed."""
    return _EMAIL.sub("<e-mail>", strip_query(_QUOTED.sub("'…'", text)))


def describe_exception(error: BaseException) -> str:
    """Exception type and stack frames, without the message: messages (SQL parameters, say)
    can carry note text, which must never reach a log."""
    frames = "".join(traceback.format_tb(error.__traceback__))
    return f"{type(error).__module__}.{type(error).__qualname__} (message withheld)\n{frames}"
