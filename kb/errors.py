"""Exception classes of the domain; the web layer maps them to responses in one place."""

from __future__ import annotations


class TandemError(Exception):
    """Base class: a problem a user can understand and act on."""

    status = 400


class ConfigError(TandemError):
    """The configuration names something that does not exist."""

    status = 500


class ValidationError(TandemError):
    """Input was rejected; the message names the file, line or field."""

    status = 400

    def __init__(self, message: str, *, source: str | None = None, field: str | None = None,
                 line: int | None = None) -> None:
        where = ", ".join(
            part for part in (
                source,
                f"line {line}" if line is not None else None,
                f"field '{field}'" if field else None,
            ) if part
        )
        super().__init__(f"{where}: {message}" if where else message)
        self.source = source
        self.field = field
        self.line = line
        self.reason = message


class NotFound(TandemError):
    """The asked-for object does not exist (or the asker may not know it exists)."""

    status = 404


class PermissionDenied(TandemError):
    """The asking user lacks the right for this action."""

    status = 403


class QueryError(TandemError):
    """A search query that cannot be answered (e.g. too long)."""

    status = 400
