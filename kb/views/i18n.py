"""The interface language: Flask-Babel over the per-area catalogs, the locale of a request,
the language switcher and the locale-aware Jinja filters.

The locale of a request is, in order: the logged-in person's chosen interface language, the
switcher's choice kept in the ``lang`` cookie, the browser's Accept-Language, the default
from the settings (English unless configured).
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, Flask, redirect, request
from flask.typing import ResponseReturnValue
from flask_babel import (
    Babel,
    format_date,
    format_datetime,
    format_decimal,
    format_number,
    gettext,
    pgettext,
)
from flask_babel import get_locale as babel_locale
from flask_login import current_user

from kb.errors import TandemError, ValidationError
from kb.i18n import (
    DEFAULT_LOCALE,
    LOCALE_NAMES,
    LOCALES,
    N_,
    Text,
    Texts,
    area_directories,
    supported_locale,
)
from kb.models import DAY_PARTS, WEEKDAYS
from kb.services import preferences
from kb.views.support import db

bp = Blueprint("i18n", __name__)

COOKIE = "lang"
COOKIE_AGE = 365 * 24 * 3600


def select_locale() -> str:
    """The locale for this request (see the module docstring for the order)."""
    if current_user and current_user.is_authenticated:
        chosen = supported_locale(getattr(current_user.person, "ui_language", None))
        if chosen:
            return chosen
    chosen = supported_locale(request.cookies.get(COOKIE))
    if chosen:
        return chosen
    best = request.accept_languages.best_match(LOCALES)
    if best:
        return best
    return default_locale()


def default_locale() -> str:
    from flask import current_app

    return str(current_app.config.get("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE))


def current_locale() -> str:
    """The request's locale code ("en", "pl", "ru"): for ``<html lang>`` and the switcher."""
    return str(babel_locale() or DEFAULT_LOCALE)


def local_target(value: str | None) -> str:
    """Where to go back after switching: a path on this site, never another host."""
    if not value:
        return "/"
    parts = urlsplit(value)
    if parts.scheme or parts.netloc or not value.startswith("/") or value.startswith("//"):
        return "/"
    if "\\" in value:
        return "/"
    return value


@bp.route("/language", methods=["POST"])
def switch() -> ResponseReturnValue:
    """The switcher's form: remember the language in a cookie, and for a logged-in person
    as their interface language, then go back to the page."""
    code = supported_locale(request.form.get("lang"))
    if code is None or request.form.get("lang", "").strip().lower() not in LOCALES:
        raise ValidationError(N_("Unknown language."), field="lang")
    if current_user.is_authenticated:
        session = db()
        preferences.set_interface_language(session, current_user.person, code)
        session.commit()
    response = redirect(local_target(request.form.get("next")), code=303)
    response.set_cookie(COOKIE, code, max_age=COOKIE_AGE, httponly=True, samesite="Lax")
    return response


def translate_error(error: TandemError) -> str:
    """A domain error's message in the request's language (its English text when the catalogs
    do not know it, e.g. messages still built with f-strings)."""
    template = getattr(error, "template", "") or str(error)
    params = getattr(error, "params", None) or {}
    if isinstance(template, Text | Texts) and not params:  # raised with a Text as its message
        return translate(template)
    # values that are themselves text (a nested error's reason, "programme 'x'") translated too
    params = {k: translate(v) if isinstance(v, Text | Texts) else v for k, v in params.items()}
    try:
        message = gettext(template, **params)
    except (KeyError, ValueError, TypeError):  # a translation whose placeholders do not fit
        message = template % params if params else template
    if isinstance(error, ValidationError) and error.template == template:
        where = [error.source] if error.source else []
        if error.line is not None:
            where.append(gettext("line %(line)s", line=error.line))
        if where:
            return f"{', '.join(where)}: {message}"
    return message


def translate(value: object) -> str:
    """Show a core message (a :class:`kb.i18n.Text`, an ``N_``-marked str or a domain error)
    in the request's language; text the catalogs do not know stays as it is."""
    if value is None:
        return ""
    if isinstance(value, TandemError):
        return translate_error(value)
    if isinstance(value, Texts):
        return value.separator.join(translate(item) for item in value.items)
    template = getattr(value, "template", None)
    params = getattr(value, "params", None) or {}
    if isinstance(value, Text):  # values that are themselves text are shown translated too
        params = {k: translate(v) if isinstance(v, Text | Texts) else v for k, v in params.items()}
    if isinstance(template, str):
        try:
            return str(gettext(template, **params))
        except (KeyError, ValueError, TypeError):
            return str(value)
    text = str(value)
    return str(gettext(text)) if text else text


def competence_name(code: str) -> str:
    """A competence code (:data:`kb.models.COMPETENCES`) in the reader's language; one HR
    added itself (stored as they wrote it) as it is."""
    names = {
        "generative-ai": gettext("Generative AI"),
        "social-media": gettext("Social media"),
        "hybrid-work": gettext("Hybrid work"),
        "esg": gettext("ESG"),
        "generational-culture": gettext("Generational culture"),
    }
    return str(names.get(code, code))


def style_name(code: str) -> str:
    """A working style code (:data:`kb.models.STYLES`) in the reader's language; an unknown
    code as it is."""
    names = {
        "structured": pgettext("working style", "Structured"),
        "informal": pgettext("working style", "Informal"),
        "hands-on": pgettext("working style", "Hands-on"),
        "reflective": pgettext("working style", "Reflective"),
    }
    return str(names.get(code, code))


def day_name(code: str) -> str:
    """A weekday code of an availability slot ("mon") as the weekday's name."""
    names = {
        "mon": gettext("Monday"),
        "tue": gettext("Tuesday"),
        "wed": gettext("Wednesday"),
        "thu": gettext("Thursday"),
        "fri": gettext("Friday"),
    }
    return str(names.get(code, code))


def day_part_name(code: str) -> str:
    """The part-of-day code of an availability slot ("am", "pm")."""
    names = {"am": pgettext("part of day", "morning"), "pm": pgettext("part of day", "afternoon")}
    return str(names.get(code, code))


def slot_name(code: str) -> str:
    """An availability slot ("mon-am") as words ("Monday morning"); an unknown code as it is."""
    day, _, part = code.partition("-")
    if day not in WEEKDAYS or part not in DAY_PARTS:
        return code
    return str(
        pgettext(
            "weekday and part of day",
            "%(day)s %(part)s",
            day=day_name(day),
            part=day_part_name(part),
        )
    )


def date_filter(value: dt.date | dt.datetime | None, format: str = "medium") -> str:  # noqa: A002
    """A date in the request's locale ("2 Apr 2024", "2 kwi 2024", "2 апр. 2024 г.")."""
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        value = value.date()
    return format_date(value, format)


def datetime_filter(value: dt.datetime | None, format: str = "medium") -> str:  # noqa: A002
    if value is None:
        return ""
    return format_datetime(value, format)


def number_filter(value: Any) -> str:
    """A whole or decimal number with the locale's separators ("12,345" / "12 345")."""
    if value is None:
        return ""
    if isinstance(value, int):
        return format_number(value)
    return format_decimal(value)


def init_app(app: Flask, default: str = DEFAULT_LOCALE) -> None:
    """Flask-Babel over every area's catalogs (it merges them), the switcher, the filters."""
    app.config.setdefault("BABEL_DEFAULT_LOCALE", default)
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = ";".join(str(p) for p in area_directories())
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters.update(
        date=date_filter, datetime=datetime_filter, number=number_filter, translate=translate
    )
    app.add_template_global(current_locale)
    for helper in (competence_name, style_name, day_name, day_part_name, slot_name):
        app.add_template_global(helper)
    app.jinja_env.globals.update(locale_names=LOCALE_NAMES, locales=LOCALES)
    app.register_blueprint(bp)
