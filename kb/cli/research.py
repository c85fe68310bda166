"""Research commands: ``eval``, ``match-eval`` and ``bench`` hand over to the bench package.

Their options and code are in ``bench/cli.py`` (installed with ``pip install -e ./bench``, never
in the product's wheel); unknown options pass through to it. Without the bench package, the
command says how to install it.
"""

from __future__ import annotations

from collections.abc import Sequence

import click

FORWARD = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}


def run_research(name: str, args: Sequence[str]) -> None:
    """Run the bench package's command ``name`` with ``args``; name its install when absent."""
    try:
        from bench.cli import COMMANDS
    except ModuleNotFoundError as exc:
        if exc.name is None or exc.name.split(".")[0] != "bench":
            raise
        raise click.ClickException(
            f"tandem {name} is part of the bench package, which is not installed;"
            " install it with: pip install -e ./bench (from the repository; scripts/setup.sh"
            " does it)"
        ) from exc
    COMMANDS[name].main(list(args), prog_name=f"tandem {name}", standalone_mode=False)


@click.command("eval", context_settings=FORWARD, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def eval_command(args: tuple[str, ...]) -> None:
    """Retrieval quality (nDCG@10, recall@10/100) on a BEIR-format dataset."""
    run_research("eval", args)


@click.command("match-eval", context_settings=FORWARD, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def match_eval(args: tuple[str, ...]) -> None:
    """Expertise-matching quality (loss, lower is better) on the reviewer-expertise set."""
    run_research("match-eval", args)


@click.command("bench", context_settings=FORWARD, add_help_option=False)
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
def bench(args: tuple[str, ...]) -> None:
    """Benchmarks (search, ingest, web, peers, matching); see results/BENCH.md."""
    run_research("bench", args)


COMMANDS = (eval_command, match_eval, bench)
