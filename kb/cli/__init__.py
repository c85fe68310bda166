"""The ``tandem`` command: thin click commands that call services, one module per group.

Settings are loaded once, from the environment (``TANDEM_INSTANCE``, ``DATABASE_URL``,
``TANDEM_MODELS``, ...) and ``--instance`` before the command name, and passed on. Domain
errors (:class:`kb.errors.TandemError`) become one-line messages and exit code 1.
"""

from __future__ import annotations

import os
from pathlib import Path

import click

from kb.cli import (
    accounts,
    content,
    export,
    matching,
    notify,
    ops,
    privacy,
    programme,
    report,
    research,
    search,
    serve,
)
from kb.cli.base import State, TandemGroup
from kb.config import load_settings, prepare_openmp


@click.group(cls=TandemGroup)
@click.option(
    "--instance",
    type=click.Path(file_okay=False, path_type=Path),
    help="Instance folder (database, indexes). Default: $TANDEM_INSTANCE or ./instance.",
)
@click.pass_context
def main(ctx: click.Context, instance: Path | None) -> None:
    """Tandem: knowledge base and matching for reverse-mentoring programmes."""
    prepare_openmp(os.environ)  # the process's entry point: before any OpenMP library loads
    overrides = {"instance_dir": instance} if instance is not None else None
    state = State(load_settings(os.environ, overrides))
    ctx.obj = state
    ctx.call_on_close(state.close)


for group in (
    content,
    search,
    serve,
    matching,
    research,
    ops,
    programme,
    notify,
    report,
    export,
    privacy,
    accounts,
):
    for command in group.COMMANDS:
        main.add_command(command)
