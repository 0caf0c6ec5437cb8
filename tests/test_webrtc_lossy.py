"""A lossy media path says how lossy: the loss estimate from the ICE checks' answers.

ICE works but the DTLS handshake never finishes: the probe calls the room degraded
("lossy media path"), not down, and counts its ICE check transmissions and the answers
that came back.  A check is answered when it and its answer both get through, so with a
loss p each way a fraction (1 - p)^2 is answered.
"""

from __future__ import annotations

import random
import re
from typing import Any

from probes.base import Target
from probes.shaping import Shaper
from probes.webrtc import Settings, _stun_type, probe
from probes.webrtc_responder import Responder

TOKEN = "probe-token"


class HalfAnsweredNoDtls(Shaper):
    """The responder's side: drops every DTLS record both ways (RFC 7983: first byte
    20-63), its first two binding responses (so that the probe retransmits its check)
    and every other one after them."""

    def __init__(self) -> None:
        super().__init__(rng=random.Random(3))
        self.responses = 0

    def send(self, send: Any, *args: Any) -> None:
        data = args[0]
        if 20 <= data[0] <= 63:
            return
        if _stun_type(data) == 0x0101:
            self.responses += 1
            if self.responses <= 2 or self.responses % 2 == 0:
                return
        super().send(send, *args)

    def receive(self, deliver: Any, data: Any, addr: Any) -> None:
        if not 20 <= data[0] <= 63:
            super().receive(deliver, data, addr)


def test_stun_types_are_read_from_stun_only() -> None:
    request = (0x0001).to_bytes(2, "big") + bytes(2) + b"\x21\x12\xa4\x42" + bytes(12)
    assert _stun_type(request) == 0x0001
    assert _stun_type(bytes([0x80, 111]) + bytes(18)) is None  # RTP
    assert _stun_type(bytes(4) + b"nope" + bytes(12)) is None  # no magic cookie
    assert _stun_type(request[:19]) is None


async def test_a_lossy_path_carries_a_loss_estimate_from_the_ice_checks(
        loopback_prefix: str) -> None:
    r = Responder(token=TOKEN, shaper=HalfAnsweredNoDtls())
    await r.start(f"{loopback_prefix}.4", 0)
    settings = Settings(duration_s=1.0, connect_timeout_s=1.0, lossy_connect_timeout_s=3.0)
    try:
        result = await probe(Target(r.host, port=r.port, name="room", url=r.url,
                                    token=TOKEN), settings)
    finally:
        await r.stop()
    assert result.ok
    found = re.search(r"\((\d+) of (\d+) ICE checks answered: about (\d+) % loss each way\)$",
                      result.degraded)
    assert result.degraded.startswith("lossy media path: ICE works but the DTLS handshake"), \
        result.degraded
    assert found, (result.degraded, result.info)
    answered, sent, each_way = map(int, found.groups())
    assert (answered, sent) == (result.info["ice_checks_answered"],
                                result.info["ice_checks_sent"])
    assert sent >= 3
    assert 0 < answered < sent
    assert each_way == round((1 - (answered / sent) ** 0.5) * 100)
