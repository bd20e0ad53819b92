"""Bolink's downstream: the ``download.do`` long poll kept up through outages, each message checked,
handed to the booth and answered.

:class:`BolinkDownstream` reads what the session's long poll
(:meth:`booth.clouds.bolink_session.BolinkSession.download`) brings: it parses each message, checks its
signs (warning or refusing by ``bolink.downstream_sign``), refuses a message that cannot be used (and
answers a re-delivery of the same bytes the same way, without logging it again), hands the others to the
booth's handler and uploads the handler's answer. Its loop (:meth:`~BolinkDownstream.run`) reconnects with
capped exponential backoff and reports online/offline.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from booth.clouds.bolink_protocol import (
    ANSWERED_SERVICES,
    BadMessage,
    BadSign,
    DownstreamMessage,
    bad_message_answer,
    check_downstream_signs,
    parse_downstream,
)
from booth.clouds.bolink_session import BolinkError, BolinkSession
from booth.config import BolinkSettings

logger = logging.getLogger("booth.bolink")

REMEMBERED_MESSAGES: Final = 512
"""How many refused (and failed) downstream messages the client remembers, so a re-delivery is answered
the same way again without being handled, logged or alerted a second time."""
_SIGN_REQUIRED: Final = frozenset({"prepay_order"})
"""Messages that must carry a valid sign under ``downstream_sign = "refuse"`` (Bolink documents ``sign``
as a required field of prepay_order); the others are refused only when a sign they carry is wrong."""

Handler = Callable[[DownstreamMessage], Awaitable[Mapping[str, Any] | None]]
"""The booth's handling of one message: its answer to upload, or None to send none."""


@dataclass(frozen=True)
class SignMismatch:
    """A downstream message whose sign did not match (see ``BolinkClient(on_sign_mismatch=...)``)."""

    service_name: str | None
    detail: str
    """One line: which sign did not match (envelope, the message's own), or that a required one is missing."""
    refused: bool
    """True under ``downstream_sign = "refuse"``: the message was answered as refused, never handled."""
    count: int
    """Mismatches seen by this client so far, this one included."""

    @property
    def text(self) -> str:
        action = "refused" if self.refused else "handled anyway (downstream_sign = warn)"
        return f"Bolink {self.service_name or 'message'} with a bad sign, {action}: {self.detail}"


class BolinkDownstream:
    """The long poll of one session: reading, checking, dispatching and answering what Bolink pushes."""

    backoff_min_s: float = 0.5
    backoff_max_s: float = 15.0

    def __init__(
        self,
        session: BolinkSession,
        settings: BolinkSettings,
        on_sign_mismatch: Callable[[SignMismatch], None] | None = None,
    ) -> None:
        self._session = session
        self._settings = settings
        self._on_sign_mismatch = on_sign_mismatch
        self._sign_mismatches = 0
        #: sha256 of a refused message's body -> the refusal sent (None when it expects no answer)
        self._refused: OrderedDict[bytes, Mapping[str, Any] | None] = OrderedDict()
        #: sha256 of messages the handler failed on (their traceback was logged once)
        self._handler_failed: OrderedDict[bytes, None] = OrderedDict()
        #: sha256 of messages whose bad sign was reported (a re-delivery is not reported again)
        self._sign_reported: OrderedDict[bytes, None] = OrderedDict()

    @property
    def sign_mismatches(self) -> int:
        """Downstream messages whose sign did not match since this client started (for the supervisor)."""
        return self._sign_mismatches

    async def poll(self) -> DownstreamMessage | None:
        """One long poll: a message, or None when there was none (or the token was renewed).

        Raises BadMessage for a message that cannot be used (BadSign for a bad sign under
        ``downstream_sign = "refuse"``), BolinkUnavailable/BolinkRefused otherwise.
        """
        raw = await self._session.download()
        return None if raw is None else self._read_message(raw)

    def _read_message(self, raw: bytes) -> DownstreamMessage:
        """Parse one message and check its signs; raise BadMessage (BadSign) when it must be refused."""
        message = parse_downstream(raw)
        if message is None:  # not reachable: download() returns None for "no message"
            raise BadMessage("empty message")
        check = check_downstream_signs(raw, self._settings.ukey.get_secret_value())
        refuse = self._settings.downstream_sign == "refuse"
        problems = list(check.mismatches)
        if refuse and not problems and message.service_name in _SIGN_REQUIRED and not check.checked:
            problems.append(f"{message.service_name} carries no sign")
        key = hashlib.sha256(raw).digest()
        if problems and key in self._sign_reported:  # a re-delivery (warn mode): reported already
            logger.debug("Bolink re-sent a %s with the same bad sign", message.service_name)
        elif problems:
            _remember(self._sign_reported, key, None)
            self._sign_mismatches += 1
            mismatch = SignMismatch(message.service_name, "; ".join(problems), refuse, self._sign_mismatches)
            logger.warning("%s", mismatch.text)
            if self._on_sign_mismatch is not None:
                try:
                    self._on_sign_mismatch(mismatch)
                except Exception:
                    logger.exception("on_sign_mismatch callback failed")
        if problems and refuse:
            raise BadSign(
                "bad sign: " + "; ".join(problems), service_name=message.service_name, fields=message.raw
            )
        logger.debug("downstream %s", message)
        return message

    async def run(self, handler: Handler, on_status: Callable[[bool, str], None]) -> None:
        """Poll forever, hand each message to ``handler`` and upload its answer (if not None).

        Reconnects with capped exponential backoff and jitter; reports ``on_status(online, reason)`` when
        the state (or, offline, the reason) changes. Only failing to reach Bolink is "offline": whatever a
        message holds, and whatever the handler does with it, the loop goes on and stays online.
        A malformed message (or, under ``downstream_sign = "refuse"``, a badly signed one) is logged in one
        line and, if it expects an answer, refused with state 0 echoing its ids (that answer is Bolink's
        acknowledgement, so it is not pushed again); a re-delivery of the same bytes gets the same refusal
        without being logged again. A failing handler is logged (its traceback once per message) and sends
        no answer, so Bolink re-pushes the message later. Never raises except CancelledError.
        """
        reported: tuple[bool, str] | None = None
        failures = 0

        def report(online: bool, reason: str) -> None:
            nonlocal reported
            if reported is not None and reported[0] == online and (online or reported[1] == reason):
                return
            reported = (online, reason)
            (logger.info if online else logger.warning)(
                "Bolink %s: %s", "online" if online else "offline", reason
            )
            try:
                on_status(online, reason)
            except Exception:
                logger.exception("on_status callback failed")

        while True:
            try:
                if not self._session.logged_in or failures:
                    # A quick login says "reachable and accepted" at once; a long poll could take its whole
                    # hold time (~30 s) to say so, and the lanes would keep showing Bolink as offline.
                    await self._session.login()
                    failures = 0
                    report(True, "connected")
                raw = await self._session.download()
            except BolinkError as exc:
                failures += 1
                report(False, str(exc))
                await asyncio.sleep(self._backoff(failures))
                continue
            except Exception as exc:
                failures += 1
                logger.exception("unexpected error in the Bolink poll loop")
                report(False, f"unexpected error: {exc!r}")
                await asyncio.sleep(self._backoff(failures))
                continue
            failures = 0
            report(True, "connected")
            if raw is not None:
                await self._handle_raw(raw, handler)

    def _backoff(self, failures: int) -> float:
        base = min(self.backoff_max_s, self.backoff_min_s * 2 ** min(failures - 1, 30))
        return min(self.backoff_max_s, base + random.uniform(0, base / 4))

    async def _handle_raw(self, raw: bytes, handler: Handler) -> None:
        """Read, check, dispatch and answer one message. Never raises (except CancelledError)."""
        key = hashlib.sha256(raw).digest()
        try:
            if key in self._refused:
                self._refused.move_to_end(key)
                refusal = self._refused[key]
                logger.debug("Bolink re-sent a message already refused; answering the same again")
                if refusal is not None:
                    await self._send_refusal(refusal)
                return
            try:
                message = self._read_message(raw)
            except BadMessage as bad:
                await self._refuse_bad_message(key, bad)
                return
            await self._dispatch(key, message, handler)
        except Exception as exc:  # a bug of this client: one line, and the next message still comes
            logger.error("Bolink message not handled (%s: %s)", type(exc).__name__, str(exc)[:200])

    async def _refuse_bad_message(self, key: bytes, bad: BadMessage) -> None:
        logger.warning("Bolink sent a message that cannot be used: %s", bad)
        refusal = bad_message_answer(bad)
        _remember(self._refused, key, refusal)
        if refusal is not None:
            await self._send_refusal(refusal)

    async def _send_refusal(self, refusal: Mapping[str, Any]) -> None:
        try:
            await self._session.answer(str(refusal["service_name"]), refusal)
        except BolinkError as exc:
            logger.warning("could not refuse the bad %s message: %s", refusal["service_name"], exc)
        except (TypeError, ValueError) as exc:
            logger.error("the refusal of a bad %s message cannot be sent: %s", refusal["service_name"], exc)

    async def _dispatch(self, key: bytes, message: DownstreamMessage, handler: Handler) -> None:
        try:
            reply = await handler(message)
        except Exception as exc:
            if key in self._handler_failed:
                logger.warning(
                    "handler failed again on Bolink %s message (%s: %s); Bolink will push it again",
                    message.service_name,
                    type(exc).__name__,
                    str(exc)[:200],
                )
            else:
                _remember(self._handler_failed, key, None)
                logger.exception("handler failed on Bolink %s message %s", message.service_name, message)
            return
        if reply is None:
            if message.service_name in ANSWERED_SERVICES:
                logger.debug("handler sent no answer to %s; Bolink will push it again", message.service_name)
            return
        try:
            await self._session.answer(message.service_name, reply)
        except BolinkError as exc:
            logger.warning(
                "answer to %s not delivered (%s); Bolink will push it again", message.service_name, exc
            )
        except (TypeError, ValueError):  # the handler's answer is unsendable (a float, a wrong name)
            logger.exception("the handler's answer to %s cannot be sent: %r", message.service_name, reply)


def _remember(memory: OrderedDict[bytes, Any], key: bytes, value: Any) -> None:
    memory[key] = value
    memory.move_to_end(key)
    while len(memory) > REMEMBERED_MESSAGES:
        memory.popitem(last=False)
