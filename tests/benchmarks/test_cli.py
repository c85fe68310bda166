"""The product's ``tandem`` hands the research commands to the bench package, or says how to
install it; a part whose dependencies are missing names them and the install command."""

from __future__ import annotations

import importlib.util
import sys

import pytest
from click.testing import CliRunner

from kb.cli import main


@pytest.mark.parametrize("command", ["bench", "eval", "match-eval"])
def test_without_the_bench_package_tandem_names_its_install(
        monkeypatch: pytest.MonkeyPatch, command: str) -> None:  # fmt: skip
    monkeypatch.setitem(sys.modules, "bench.cli", None)  # as if bench were not installed
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 1
    assert "pip install -e ./bench" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_missing_bench_dependency_is_named_with_the_install_command(
        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "txtai" else real(name, *a)
    )
    result = CliRunner().invoke(main, ["bench", "peers", "--no-write"])
    assert result.exit_code == 1
    assert "txtai" in result.output and "pip install -e ./bench" in result.output


def test_the_research_commands_take_their_own_options() -> None:
    for command, option in (("bench", "--mentees"), ("eval", "--split"),
                            ("match-eval", "--draws")):  # fmt: skip
        result = CliRunner().invoke(main, [command, "--help"])
        assert result.exit_code == 0, result.output
        assert f"Usage: tandem {command}" in result.output and option in result.output
