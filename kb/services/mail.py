"""Outgoing e-mail through SMTP, when the settings name a server (``TANDEM_SMTP_HOST``).

Without a server nothing is sent and :func:`send` says so (it returns a result with
``sent=False`` and logs one line without the address or the text); callers carry on either
way: an invitation link, for instance, is also shown to HR on the page. Message bodies and
addresses never go to the log.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from kb.config import Settings

log = logging.getLogger("kb.mail")
TIMEOUT_SECONDS = 20


@dataclass(frozen=True)
class MailResult:
    """Whether the message went out, and if not, why (for the caller to show)."""

    sent: bool
    reason: str = ""


def configured(settings: Settings) -> bool:
    return bool(settings.smtp_host)


def build_message(settings: Settings, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=settings.smtp_from.rpartition("@")[2] or None)
    message.set_content(body)  # UTF-8 text (Polish and Russian as they are)
    return message


def send(settings: Settings, to: str, subject: str, body: str) -> MailResult:
    """Send one plain-text message to ``to``; never raises for delivery problems."""
    if not configured(settings):
        log.info("mail not sent: SMTP is not configured (TANDEM_SMTP_HOST is empty)")
        return MailResult(False, "not configured")
    message = build_message(settings, to, subject, body)
    host = settings.smtp_host or ""
    try:
        if settings.smtp_tls == "ssl":
            context = ssl.create_default_context()
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                host, settings.smtp_port, timeout=TIMEOUT_SECONDS, context=context
            )
        else:
            client = smtplib.SMTP(host, settings.smtp_port, timeout=TIMEOUT_SECONDS)
        with client:
            if settings.smtp_tls == "starttls":
                client.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                client.login(settings.smtp_user, settings.smtp_password or "")
            client.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        log.warning("mail not sent: %s from the SMTP server", type(error).__name__)
        return MailResult(False, type(error).__name__)
    return MailResult(True)
