"""A SIP transport on port 0 (tests, simulators) takes one number for UDP and TCP; when an outgoing TCP connection
already holds that number as its local port, the transport picks again instead of failing to start."""

from __future__ import annotations

import errno
import socket

import pytest

from tianyan.gb28181.transport import SipTransport


async def test_a_port_zero_start_picks_again_when_tcp_finds_the_number_taken() -> None:
    # Hold a TCP port, then make the first UDP pick land on exactly that number.
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    taken = holder.getsockname()[1]
    picks = iter([taken])
    real_bind = socket.socket.bind

    def bind(self: socket.socket, address: tuple[str, int]) -> None:
        if self.type == socket.SOCK_DGRAM and address[1] == 0:
            address = (address[0], next(picks, 0))
        real_bind(self, address)

    transport = SipTransport(host="127.0.0.1", port=0, receiver=lambda data, peer: None)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "bind", bind)
        await transport.start()
    try:
        assert transport.port not in (0, taken)
        with socket.create_connection(("127.0.0.1", transport.port), timeout=5):
            pass  # TCP listens on the number it reports
    finally:
        await transport.close()
        holder.close()


async def test_a_configured_port_that_is_taken_fails_with_the_reason() -> None:
    holder = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    holder.bind(("127.0.0.1", 0))
    transport = SipTransport(host="127.0.0.1", port=holder.getsockname()[1], receiver=lambda data, peer: None)
    try:
        with pytest.raises(OSError) as raised:
            await transport.start()
        assert raised.value.errno == errno.EADDRINUSE
    finally:
        holder.close()
