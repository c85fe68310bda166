"""What every ``tandem`` command shares: the settings and instance, errors, JSON and tables."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import click
from sqlalchemy.exc import InterfaceError, OperationalError

from kb.config import Settings
from kb.errors import TandemError
from kb.runtime import Tandem, open_tandem


class TandemGroup(click.Group):
    """Maps domain errors to a clean message in one place (no tracebacks for users)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except TandemError as exc:
            raise click.ClickException(str(exc)) from exc
        except (OperationalError, InterfaceError) as exc:
            # A database restart or an unreachable server: say so (no traceback, no SQL).
            kind = type(exc.orig or exc).__name__
            raise click.ClickException(
                f"the database could not be reached or closed the connection ({kind}); "
                "what was not committed is not saved: run the command again when it is back"
            ) from exc


class State:
    """The command's settings; opens the instance on first use and closes it at the end."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._tandem: Tandem | None = None

    @property
    def tandem(self) -> Tandem:
        if self._tandem is None:
            self._tandem = open_tandem(self.settings)
        return self._tandem

    def replace(self, tandem: Tandem) -> Tandem:
        self._tandem = tandem
        return tandem

    def close(self) -> None:
        if self._tandem is not None:
            self._tandem.close()
            self._tandem = None


pass_state = click.make_pass_decorator(State)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def print_rows(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str, int]]) -> None:
    """A plain text table: (key, heading, width) per column."""
    click.echo("  ".join(f"{head:<{width}}" for _, head, width in columns))
    for row in rows:
        cells = []
        for key, _, width in columns:
            value = row.get(key, "")
            text = f"{value:.3f}" if isinstance(value, float) else str(value)
            cells.append(f"{text[:width]:<{width}}")
        click.echo("  ".join(cells))
