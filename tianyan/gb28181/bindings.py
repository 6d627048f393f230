"""Where each registered device is reached, and how requests to it are addressed (in memory; pure)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

from tianyan.gb28181.sip.headers import NameAddr, SipUri, Via
from tianyan.gb28181.sip.message import SipRequest, new_branch, new_call_id, new_request, new_tag
from tianyan.gb28181.transport import Peer


@dataclass(frozen=True)
class Binding:
    """A registered device: the address its packets come from (NAT-proof) and the Contact it gave."""

    device_id: int
    gb_id: str
    peer: Peer
    contact: SipUri
    user_agent: str = ""


@dataclass(frozen=True)
class Identity:
    """The platform as devices know it: its 20-digit ID, its realm/domain and the address it advertises."""

    id: str
    domain: str
    host: str
    port: int

    def via(self, transport: str) -> Via:
        return Via(transport, self.host, self.port, {"rport": None, "branch": new_branch()})

    @property
    def uri(self) -> SipUri:
        return SipUri(host=self.host, user=self.id, port=self.port)


class Bindings:
    def __init__(self) -> None:
        self._by_device: dict[int, Binding] = {}

    def bind(self, binding: Binding) -> None:
        self._by_device[binding.device_id] = binding

    def unbind(self, device_id: int) -> None:
        self._by_device.pop(device_id, None)

    def get(self, device_id: int) -> Binding | None:
        return self._by_device.get(device_id)

    def __len__(self) -> int:
        return len(self._by_device)


class RequestFactory:
    """Out-of-dialog requests from the platform to a device: MESSAGE, SUBSCRIBE, INVITE."""

    def __init__(self, identity: Identity) -> None:
        self.identity = identity
        self._cseq = itertools.count(1)

    def request(
        self,
        method: str,
        binding: Binding,
        *,
        target_id: str | None = None,
        body: bytes = b"",
        content_type: str | None = None,
        headers: list[tuple[str, str]] | None = None,
        with_contact: bool = False,
        subject: str | None = None,
    ) -> SipRequest:
        """`target_id` is the channel for INVITE and channel-level MESSAGEs; the request goes to the device's
        address with the channel's ID in the Request-URI, as GB/T 28181 devices expect."""
        user = target_id or binding.gb_id
        host = binding.contact.host
        port = binding.contact.port
        uri = SipUri(host=host, user=user, port=port)
        extra = list(headers or [])
        if subject is not None:
            extra.append(("Subject", subject))
        return new_request(
            method,
            uri,
            via=self.identity.via(binding.peer.transport),
            from_=NameAddr(SipUri(host=self.identity.domain, user=self.identity.id), params={"tag": new_tag()}),
            to=NameAddr(SipUri(host=self.identity.domain, user=user)),
            call_id=new_call_id(self.identity.host),
            cseq=next(self._cseq) % 2_000_000_000 + 1,
            contact=NameAddr(self.identity.uri) if with_contact else None,
            headers=extra,
            body=body,
            content_type=content_type,
        )
