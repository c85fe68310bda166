"""The four health thresholds come from one list (kb.services.health.THRESHOLDS): the
command line's options, the programme form and the pair-health form all show its names,
ranges and defaults, and the checks refuse what lies outside them."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import click
import pytest
from flask.testing import FlaskClient

from kb.cli.programme import create
from kb.errors import ValidationError
from kb.services import health

Login = Callable[..., Any]


def inputs(page: str) -> dict[str, tuple[str, str, str]]:
    """name -> (min, max, step) of every number input of a page."""
    found = re.findall(
        r'<input id="[^"]+" type="number" name="(\w+)" min="([^"]+)" max="([^"]+)" '
        r'step="([^"]+)"', page)  # fmt: skip
    return {name: (low, high, step) for name, low, high, step in found}


def test_the_list_drives_the_command_line() -> None:
    options = {p.name: p for p in create.params if isinstance(p, click.Option)}
    assert [s.name for s in health.THRESHOLDS] == [
        n for n in options if n in health.THRESHOLD_NAMES
    ]
    for setting in health.THRESHOLDS:
        option = options[setting.name]
        assert option.opts == [setting.option]
        assert isinstance(option.type, click.IntRange if setting.whole else click.FloatRange)
        assert (option.type.min, option.type.max) == (setting.minimum, setting.maximum)
        assert f"(default {setting.default})" in (option.help or "")


def test_the_list_drives_both_forms(client: FlaskClient, login: Login) -> None:
    login(client, "hania@example.com")
    expected = {s.name: (str(s.minimum), str(s.maximum), s.step) for s in health.THRESHOLDS}
    edit = client.get("/hr/programmes/spring/edit").get_data(as_text=True)
    page = client.get("/hr/programmes/spring/health").get_data(as_text=True)
    for text in (edit, page):
        shown = inputs(text)
        assert {k: v for k, v in shown.items() if k in expected} == expected
        for setting in health.THRESHOLDS:
            assert setting.label in text


@pytest.mark.parametrize("setting", health.THRESHOLDS, ids=lambda s: s.name)
def test_the_list_drives_the_checks(setting: health.ThresholdSetting) -> None:
    health.check_thresholds(**{setting.name: setting.minimum})
    health.check_thresholds(**{setting.name: setting.maximum})
    for outside in (setting.minimum - 1, setting.maximum + 1):
        with pytest.raises(ValidationError) as refused:
            health.check_thresholds(**{setting.name: outside})
        assert refused.value.field == setting.name
