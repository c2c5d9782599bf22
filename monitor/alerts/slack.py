"""Slack sender: an incoming webhook, or a bot token posting with ``chat.postMessage``.

Only transmits payloads built by :func:`monitor.alerts.messages.build_slack`. The webhook URL
and the token are secrets: they never reach an error, a log line or the database, which is
why slack-sdk gets a muted logger of its own (it logs request URLs and headers at debug level).

Error classes follow Slack's docs: https://api.slack.com/messaging/webhooks#handling_errors and
https://api.slack.com/methods/chat.postMessage#errors; 429 carries Retry-After
(https://api.slack.com/apis/rate-limits).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from monitor.alerts.config import SlackChannel
from monitor.alerts.messages import build_slack
from monitor.alerts.sender import ChannelType, Payload, capped_retry_after
from monitor.errors import DeliveryError

TIMEOUT_SECONDS = 15

# Errors retrying cannot fix: the message is marked failed and the channel flagged.
PERMANENT_ERRORS = {
    # webhooks (HTTP 4xx bodies)
    "invalid_token": "the webhook was revoked: create a new one and update webhook_url",
    "no_service": "the webhook was removed or disabled: create a new one",
    "no_team": "the workspace is gone or the app was removed: reinstall the app",
    "team_disabled": "the workspace is disabled",
    "channel_is_archived": "the channel is archived: unarchive it or point at another",
    "action_prohibited": "a workspace admin restricted posting to this channel",
    "posting_to_general_channel_denied": "only admins may post to #general: use a channel",
    "invalid_payload": "Slack rejected the message format (a cwdrift bug): please report it",
    # Web API ("ok": false)
    "invalid_auth": "the bot token is invalid: reinstall the app and update bot_token",
    "not_authed": "no bot token was sent: set bot_token",
    "token_revoked": "the bot token was revoked: reinstall the app and update bot_token",
    "token_expired": "the bot token expired: rotate it and update bot_token",
    "account_inactive": "the bot user or workspace was deactivated: reinstall the app",
    "channel_not_found": "the channel does not exist or the bot cannot see it: check 'channel'",
    "not_in_channel": "the bot is not in the channel: /invite the app to it",
    "is_archived": "the channel is archived: unarchive it or point at another",
    "missing_scope": "the app lacks the chat:write scope: add it and reinstall",
    "restricted_action": "a workspace admin restricted posting to this channel",
    "invalid_blocks": "Slack rejected the blocks (a cwdrift bug): please report it",
    "msg_too_long": "the message is too long (a cwdrift bug): please report it",
}
# Web API errors Slack documents as worth retrying.
TRANSIENT_ERRORS = {"ratelimited", "internal_error", "fatal_error", "service_unavailable"}

_sdk_log = logging.getLogger(f"{__name__}.sdk")
_sdk_log.setLevel(logging.CRITICAL + 1)  # also stops slack-sdk's own `level <= DEBUG` checks
_sdk_log.propagate = False
_sdk_log.addHandler(logging.NullHandler())


class SlackSender:
    kind = "slack"

    def __init__(self, config: SlackChannel) -> None:
        self.name = config.name
        self.config = config

    def __repr__(self) -> str:
        return f"SlackSender({self.name!r})"

    async def send(self, payload: Mapping[str, Any]) -> None:
        # slack-sdk (~0.1 s to import) with the first message: a check that sends nothing,
        # or has no Slack channel, never loads it.
        from slack_sdk.errors import SlackApiError, SlackRequestError

        try:
            if self.config.webhook_url is not None:
                await self._send_webhook(self.config.webhook_url.get_secret_value(), dict(payload))
            else:
                await self._post_message(dict(payload))
        except (SlackApiError, SlackRequestError, DeliveryError):
            raise
        except (OSError, TimeoutError) as exc:  # refused, reset, DNS, timed out
            raise self._unreachable(exc) from None
        except Exception as exc:
            # slack-sdk's async clients run on aiohttp, whose transport errors (a server that
            # hung up, a broken payload stream) are not all OSErrors; cwdrift imports aiohttp
            # only at its ConnectWise seam, so they are recognised by their module here.
            if type(exc).__module__.partition(".")[0] == "aiohttp":
                raise self._unreachable(exc) from None
            raise

    async def _send_webhook(self, url: str, payload: dict[str, Any]) -> None:
        from slack_sdk.webhook.async_client import AsyncWebhookClient

        client = AsyncWebhookClient(
            url, timeout=TIMEOUT_SECONDS, logger=_sdk_log, retry_handlers=[]
        )
        response = await client.send_dict(payload)
        if response.status_code == 200:
            return
        body = (response.body or "").strip()
        raise self._classify(response.status_code, body, response.headers)

    async def _post_message(self, payload: dict[str, Any]) -> None:
        from slack_sdk.errors import SlackApiError, SlackRequestError
        from slack_sdk.web.async_client import AsyncWebClient

        assert self.config.bot_token is not None  # the config validator guarantees it
        client = AsyncWebClient(
            token=self.config.bot_token.get_secret_value(),
            base_url=self.config.base_url or AsyncWebClient.BASE_URL,
            timeout=TIMEOUT_SECONDS,
            logger=_sdk_log,
            retry_handlers=[],
        )
        try:
            await client.chat_postMessage(
                channel=self.config.channel or "",
                text=payload["text"],
                blocks=payload.get("blocks"),
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            response = exc.response
            data = response.data if isinstance(response.data, dict) else {}
            error = str(data.get("error") or "")
            raise self._classify(response.status_code, error, response.headers) from None
        except SlackRequestError:
            raise DeliveryError(
                f"slack channel {self.name!r}: the request could not be built",
                permanent=True,
                fix="check base_url in the channel's config",
            ) from None

    def _classify(self, status: int, error: str, headers: Mapping[str, Any]) -> DeliveryError:
        """Slack's answer -> permanent or transient; ``error`` is Slack's short code, no secret."""
        code = error if error.replace("_", "").isalnum() and len(error) < 80 else ""
        where = f"slack channel {self.name!r}: Slack answered HTTP {status}"
        where += f" {code!r}" if code else ""
        if status == 429 or code == "ratelimited":
            return DeliveryError(
                f"{where} (rate limited)",
                permanent=False,
                retry_after=parse_retry_after(headers),
                fix="nothing to do: cwdrift retries after the time Slack asked for",
            )
        if status >= 500 or code in TRANSIENT_ERRORS:
            return DeliveryError(
                f"{where} (Slack-side trouble)", permanent=False, fix="retried automatically"
            )
        if code in PERMANENT_ERRORS:
            return DeliveryError(where, permanent=True, fix=PERMANENT_ERRORS[code])
        if status in (404, 410):
            return DeliveryError(
                where, permanent=True, fix="the webhook no longer exists: create a new one"
            )
        return DeliveryError(
            where,
            permanent=True,
            fix="see https://api.slack.com/methods/chat.postMessage#errors for this code",
        )

    def _unreachable(self, exc: BaseException) -> DeliveryError:
        # Only the exception's type: transport messages can carry the URL, which is the secret.
        return DeliveryError(
            f"slack channel {self.name!r}: cannot reach Slack ({type(exc).__name__})",
            permanent=False,
            fix="check network access to Slack from this host; retried automatically",
        )


def parse_retry_after(headers: Mapping[str, Any]) -> float | None:
    """Slack's Retry-After in seconds, capped (:func:`capped_retry_after`); None if unusable.

    An HTTP-date, or anything else that is not a number of seconds, falls back to the backoff.
    """
    for name, value in headers.items():
        if name.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            try:
                return capped_retry_after(float(str(raw).strip()))
            except ValueError:
                return None
    return None


def _summarize(payload: Payload) -> str:
    return str(payload.get("text", ""))[:200]


CHANNEL = ChannelType(
    kind="slack",
    build=lambda group, _config: build_slack(group),
    summarize=_summarize,
    make_sender=SlackSender,
)
