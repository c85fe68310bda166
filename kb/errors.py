"""Exception classes of the domain; the web layer maps them to responses in one place.

Messages are translatable: raise with an ``N_``-marked template and its values as keyword
arguments, ``NotFound(N_("No guide %(slug)s."), slug=slug)``. ``str(error)`` is the English
text (logs, the CLI); the web layer translates ``error.template`` and fills in ``error.params``.
"""

from __future__ import annotations


def format_message(template: str, params: dict[str, object] | None) -> str:
    """``template % params`` as gettext does it: a template without params stays as it is
    (so old messages with a literal % keep working)."""
    return template % params if params else template


class TandemError(Exception):
    """Base class: a problem a user can understand and act on."""

    status = 400

    def __init__(self, message: str = "", /, **params: object) -> None:
        super().__init__(format_message(message, params))
        self.template = message
        self.params = params


class ConfigError(TandemError):
    """The configuration names something that does not exist."""

    status = 500


class ValidationError(TandemError):
    """Input was rejected; the message names the file, line or field."""

    status = 400

    def __init__(
        self,
        message: str,
        /,
        *,
        source: str | None = None,
        field: str | None = None,
        line: int | None = None,
        **params: object,
    ) -> None:
        reason = format_message(message, params)
        where = ", ".join(
            part
            for part in (
                source,
                f"line {line}" if line is not None else None,
                f"field '{field}'" if field else None,
            )
            if part
        )
        super().__init__(f"{where}: {reason}" if where else reason)
        self.template = message
        self.params = params
        self.source = source
        self.field = field
        self.line = line
        self.reason = reason


class NotFound(TandemError):
    """The asked-for object does not exist (or the asker may not know it exists)."""

    status = 404


class PermissionDenied(TandemError):
    """The asking user lacks the right for this action."""

    status = 403


class QueryError(TandemError):
    """A search query that cannot be answered (e.g. too long)."""

    status = 400
