"""Outgoing mail against a real SMTP server (aiosmtpd on a free local port), and the
"not configured" path that sends nothing."""

from __future__ import annotations

import dataclasses
import email
import socket
from collections.abc import Iterator
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from kb.config import Settings, load_settings
from kb.services import mail


class Inbox:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = email.message_from_bytes(envelope.original_content or envelope.content)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"tandem", b"s3cret")
    return AuthResult(success=ok)


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox, hostname="127.0.0.1", port=port,
        authenticator=authenticator, auth_require_tls=False,
    )  # fmt: skip
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def smtp_settings(tmp_path: Path, port: int, **extra: Any) -> Settings:
    return load_settings(
        {
            "TANDEM_SMTP_HOST": "127.0.0.1",
            "TANDEM_SMTP_PORT": str(port),
            "TANDEM_SMTP_TLS": "none",
            "TANDEM_SMTP_FROM": "tandem@example.com",
        },
        {"instance_dir": tmp_path, **extra},
    )


def test_a_message_reaches_a_real_smtp_server(
    tmp_path: Path, smtp_server: tuple[Inbox, int]
) -> None:
    inbox, port = smtp_server
    settings = smtp_settings(tmp_path, port)
    body = "Witaj! Ustaw hasło: https://tandem.example.com/set-password/abc\n"
    result = mail.send(settings, "ola@example.com", "Zaproszenie do Tandemu", body)
    assert result.sent
    assert len(inbox.messages) == 1
    sender, recipients, message = inbox.messages[0]
    assert sender == "tandem@example.com" and recipients == ["ola@example.com"]
    assert message["Subject"] == "Zaproszenie do Tandemu"
    body = message.get_payload(decode=True)
    assert isinstance(body, bytes)
    assert "Ustaw hasło" in body.decode("utf-8")


def test_login_with_the_configured_user(tmp_path: Path, smtp_server: tuple[Inbox, int]) -> None:
    inbox, port = smtp_server
    good = smtp_settings(tmp_path, port, smtp_user="tandem", smtp_password="s3cret")
    assert mail.send(good, "a@example.com", "Hi", "Hello").sent
    bad = dataclasses.replace(good, smtp_password="wrong")
    result = mail.send(bad, "a@example.com", "Hi", "Hello")
    # Refused (aiosmtpd may also hang up after the failed attempts): nothing delivered.
    assert not result.sent
    assert result.reason in ("SMTPAuthenticationError", "SMTPServerDisconnected")
    assert len(inbox.messages) == 1


def test_without_a_server_nothing_is_sent_and_the_caller_goes_on(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings({}, {"instance_dir": tmp_path})
    with caplog.at_level("INFO", logger="kb.mail"):
        result = mail.send(settings, "secret-person@example.com", "Subject", "Body text")
    assert not result.sent and result.reason == "not configured"
    assert "not configured" in caplog.text
    assert "secret-person" not in caplog.text and "Body text" not in caplog.text


def test_an_unreachable_server_is_reported_not_raised(tmp_path: Path) -> None:
    settings = smtp_settings(tmp_path, free_port())  # nothing listens there
    result = mail.send(settings, "a@example.com", "Hi", "Hello")
    assert not result.sent and result.reason


def test_smtp_settings_are_checked(tmp_path: Path) -> None:
    from kb.errors import ConfigError

    with pytest.raises(ConfigError):
        load_settings({"TANDEM_SMTP_TLS": "maybe"}, {"instance_dir": tmp_path})
    with pytest.raises(ConfigError):
        load_settings({"TANDEM_SMTP_PORT": "0"}, {"instance_dir": tmp_path})
