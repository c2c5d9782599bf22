"""Email sender: SMTP with STARTTLS or implicit TLS, and AUTH, via aiosmtplib.

Only transmits payloads built by :func:`monitor.alerts.messages.build_email`, adding From, To
and Date. It never sends the password without TLS to a host off this machine (the config
refuses such a channel; the sender checks again, so no other path can build one). Failures
follow SMTP's own split (RFC 5321 section 4.2.1): 4xx replies and a server
that cannot be reached are transient; 5xx replies and refused credentials are permanent.
The password never reaches an error, a log line or the database.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from email.message import EmailMessage
from typing import Any

from monitor.alerts.config import EmailChannel, sends_password_in_clear
from monitor.alerts.messages import build_email
from monitor.alerts.sender import ChannelType, Payload
from monitor.errors import DeliveryError

log = logging.getLogger(__name__)


class EmailSender:
    kind = "email"

    def __init__(self, config: EmailChannel) -> None:
        self.name = config.name
        self.config = config

    def __repr__(self) -> str:
        return f"EmailSender({self.name!r})"

    def compose(self, payload: Mapping[str, Any]) -> EmailMessage:
        config = self.config
        message = EmailMessage()
        message["Subject"] = payload["subject"]
        message["From"] = config.sender
        message["To"] = ", ".join(config.recipients)
        message["Date"] = payload["date"]
        message["Message-ID"] = payload["message_id"]
        # Every alert of a tenant points at one stable root id, so mail clients thread them.
        message["In-Reply-To"] = payload["thread_id"]
        message["References"] = payload["thread_id"]
        message.set_content(payload["text"])
        message.add_alternative(payload["html"], subtype="html")
        return message

    async def send(self, payload: Mapping[str, Any]) -> None:
        import aiosmtplib  # with the first message (~50 ms): a check that sends none skips it

        config = self.config
        if sends_password_in_clear(
            config.host, tls=config.ssl or config.starttls, password=config.password
        ):
            raise DeliveryError(
                f"email channel {self.name!r}: refusing to send the password to {config.host} "
                "without TLS",
                permanent=True,
                fix="set starttls: true (port 587) or ssl: true (port 465) on this channel",
            )
        try:
            refused, _ = await aiosmtplib.send(
                self.compose(payload),
                hostname=config.host,
                port=config.port,
                username=config.username,
                password=config.password.get_secret_value() if config.password else None,
                use_tls=config.ssl,
                start_tls=config.starttls,
                timeout=config.timeout,
            )
        except aiosmtplib.SMTPAuthenticationError as exc:
            raise DeliveryError(
                f"email channel {self.name!r}: {config.host} refused the login (SMTP {exc.code})",
                permanent=True,
                fix="check username and password of this email channel",
            ) from None
        except aiosmtplib.SMTPRecipientsRefused as exc:
            codes = sorted({r.code for r in exc.recipients})
            raise DeliveryError(
                f"email channel {self.name!r}: {config.host} refused every recipient "
                f"(SMTP {', '.join(map(str, codes))})",
                permanent=any(code >= 500 for code in codes),
                fix="check the recipients addresses and the server's relay rules",
            ) from None
        except aiosmtplib.SMTPResponseException as exc:
            raise DeliveryError(
                f"email channel {self.name!r}: {config.host} answered SMTP {exc.code}",
                permanent=exc.code >= 500,
                fix="see the SMTP server's log for this message",
            ) from None
        except aiosmtplib.SMTPNotSupported:
            raise DeliveryError(
                f"email channel {self.name!r}: {config.host} lacks a feature the config asks "
                "for (STARTTLS or AUTH)",
                permanent=True,
                fix="check starttls/ssl and port (587 for starttls, 465 for ssl)",
            ) from None
        except (aiosmtplib.SMTPException, OSError) as exc:
            raise DeliveryError(
                f"email channel {self.name!r}: cannot reach {config.host}:{config.port} "
                f"({type(exc).__name__})",
                permanent=False,
                fix="check that the SMTP server is up and reachable; retried automatically",
            ) from None
        if refused:
            # Some recipients got it: retrying would send them a duplicate, so only say so.
            log.warning(
                "email channel %r: %s refused %d recipient(s)",
                self.name,
                config.host,
                len(refused),
            )


def _domain(config: EmailChannel) -> str:
    return config.sender.rsplit("@", 1)[-1].strip(">").strip() or "cwdrift.invalid"


def _build(group: Any, config: EmailChannel) -> Payload:
    return build_email(group, channel=config.name, domain=_domain(config))


def _summarize(payload: Payload) -> str:
    return str(payload.get("subject", ""))


CHANNEL = ChannelType(kind="email", build=_build, summarize=_summarize, make_sender=EmailSender)
