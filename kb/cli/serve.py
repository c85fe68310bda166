"""``tandem serve``: the web app under gunicorn (or Flask's development server)."""

from __future__ import annotations

import dataclasses
import os
import sys

import click

from kb.cli.base import State, pass_state

# Gunicorn's access log without query strings: searched words must never reach a log.
ACCESS_LOG_FORMAT = '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(M)sms'


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--dev", is_flag=True, help="Flask's development server (reloader, debugger off).")
@pass_state
def serve(state: State, host: str, port: int, workers: int, dev: bool) -> None:
    """Serve the web app (gunicorn; --dev for Flask's server).

    The server sends no reminders by itself: run `tandem notify` hourly from cron or a
    systemd timer (and `tandem retention` daily), see README, "Scheduled commands"."""
    from kb.services import match_vectors

    tandem = state.tandem
    applied = tandem.search.catch_up()  # build indexes once, before workers start
    embedded = match_vectors.catch_up(tandem.sessions, tandem.matching_embedders)
    if embedded:
        click.echo(f"Matching vectors: {embedded} computed.")
    settings = state.settings
    state.close()
    shown = "localhost" if host in ("0.0.0.0", "::") else host
    click.echo(f"Instance {settings.instance_dir}; {applied} index change(s) applied.")
    click.echo(f"Open http://{shown}:{port}/ in your browser (Ctrl+C stops the server).")
    click.echo("Reminders and notices: run `tandem notify` hourly (cron or a systemd timer).")
    sys.stdout.flush()
    if dev:
        from kb.app import create_app

        create_app(dataclasses.replace(settings, warm_up=True)).run(
            host=host, port=port, debug=False, use_reloader=False
        )
        return
    from kb.gunicorn_conf import command

    args = command(
        workers, f"{host}:{port}",
        "--access-logfile", "-", "--access-logformat", ACCESS_LOG_FORMAT,
    )  # fmt: skip
    # gunicorn's processes load the same settings from this environment (kb.app.create_app).
    child = {**os.environ, "TANDEM_INSTANCE": str(settings.instance_dir), "TANDEM_WARM_UP": "1"}
    os.execve(args[0], args, child)


COMMANDS = (serve,)
