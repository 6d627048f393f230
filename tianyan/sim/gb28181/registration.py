"""A device's REGISTER: one Call-ID and From tag per registration, the digest answer to a 401, Expires, Date."""

from __future__ import annotations

import email.utils
from dataclasses import dataclass
from datetime import datetime

from tianyan.gb28181.endpoint import SipTimeout
from tianyan.gb28181.sip.digest import authorization, choose_challenge
from tianyan.gb28181.sip.errors import SipError
from tianyan.gb28181.sip.headers import Challenge, NameAddr, SipUri
from tianyan.gb28181.sip.message import SipRequest, SipResponse, new_call_id, new_request, new_tag
from tianyan.gb28181.transport import Peer
from tianyan.sim.gb28181.profile import PlatformAddress
from tianyan.sim.gb28181.switchboard import Switchboard

USER_AGENT = "Tianyan-Sim/1.0"


@dataclass(frozen=True)
class RegisterOutcome:
    """How one REGISTER (with its digest round) ended: `status` None means no answer at all."""

    status: int | None
    expires_s: int
    reason: str
    server_date: datetime | None = None
    retry_after_s: float | None = None  # a busy platform's Retry-After: no retry before it

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class Registration:
    """Builds and sends REGISTERs for one device; a new instance is a new registration (new Call-ID, new tag),
    which is what a device does after a reboot or after losing its registration."""

    def __init__(
        self, device_id: str, password: str, platform: PlatformAddress, board: Switchboard, *, qop: bool
    ) -> None:
        self.device_id = device_id
        self.password = password
        self.platform = platform
        self.board = board
        self.qop = qop
        self.call_id = new_call_id(board.host)
        self.tag = new_tag()
        self.cseq = 0

    @property
    def peer(self) -> Peer:
        return Peer(self.board.transport_name, self.platform.host, self.platform.port)

    def _request(self, expires_s: int, authorization_value: str | None) -> SipRequest:
        self.cseq += 1
        aor = NameAddr(SipUri(host=self.platform.domain, user=self.device_id))
        headers = [("Expires", str(expires_s)), ("User-Agent", USER_AGENT)]
        if authorization_value is not None:
            headers.append(("Authorization", authorization_value))
        return new_request(
            "REGISTER",
            SipUri(host=self.platform.domain, user=self.platform.server_id),
            via=self.board.via(),
            from_=aor.with_tag(self.tag),
            to=aor,
            call_id=self.call_id,
            cseq=self.cseq,
            contact=self.board.contact(self.device_id),
            headers=headers,
        )

    async def register(self, expires_s: int) -> RegisterOutcome:
        """REGISTER, answer a challenge (a second time only when the first answer was called stale), and say
        how it ended. Expires 0 unregisters."""
        endpoint = self.board.endpoint
        request = self._request(expires_s, None)
        try:
            response = await endpoint.request(request, self.peer)
            for _ in range(2):
                if response.status not in (401, 407):
                    break
                answer = self._answer(request, response)
                if answer is None:
                    return RegisterOutcome(response.status, 0, "challenge we cannot answer")
                request = self._request(expires_s, answer)
                response = await endpoint.request(request, self.peer)
                if response.status in (401, 407) and not _stale(response):
                    return RegisterOutcome(response.status, 0, "credentials refused")
        except SipTimeout as exc:
            return RegisterOutcome(None, 0, f"no answer: {exc}")
        if not 200 <= response.status < 300:
            return RegisterOutcome(
                response.status, 0, response.reason or "refused", retry_after_s=retry_after_s(response)
            )
        return RegisterOutcome(response.status, _granted_s(response, expires_s), "ok", _date(response))

    def _answer(self, request: SipRequest, response: SipResponse) -> str | None:
        name = "Proxy-Authenticate" if response.status == 407 else "WWW-Authenticate"
        try:
            challenge = choose_challenge(response.headers.get_all(name))
            return authorization(
                challenge, "REGISTER", str(request.uri), self.device_id, self.password, use_qop=self.qop
            )
        except SipError:
            return None


def _stale(response: SipResponse) -> bool:
    for value in response.headers.get_all("WWW-Authenticate"):
        try:
            if Challenge.parse(value).params.get("stale", "").lower() == "true":
                return True
        except SipError:
            continue
    return False


def _granted_s(response: SipResponse, asked_s: int) -> int:
    """The registration's lifetime as the server granted it: Expires, else the Contact's expires, else ours."""
    try:
        if response.expires is not None:
            return response.expires
        contact = response.contact
        if contact is not None and (value := contact.params.get("expires")) and value.isdigit():
            return int(value)
    except SipError:
        pass
    return asked_s


def retry_after_s(response: SipResponse) -> float | None:
    """Retry-After in seconds (RFC 3261 §20.33: digits, then an optional comment and parameters)."""
    value = (response.headers.get("Retry-After") or "").split("(", 1)[0].split(";", 1)[0].strip()
    return float(value) if value.isdigit() else None


def _date(response: SipResponse) -> datetime | None:
    """GB/T 28181 puts the server time in Date for device time sync: `2026-01-01T12:00:00.000` or RFC 1123."""
    value = response.headers.get("Date")
    if not value:
        return None
    try:
        return datetime.fromisoformat(value.strip())
    except ValueError:
        pass
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
