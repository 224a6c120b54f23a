"""The MQTT 5 wire format of the embedded demo broker (devices.embedded_broker):
packet types, properties, variable byte integers, strings, whole packets.

Standard library only, like the broker.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any

CONNECT, CONNACK, PUBLISH, PUBACK, SUBSCRIBE, SUBACK = 1, 2, 3, 4, 8, 9
PINGREQ, PINGRESP, DISCONNECT = 12, 13, 14
MAX_PACKET, MAX_QUEUED, NEVER = 256 * 1024, 1000, 0xFFFFFFFF
MESSAGE_EXPIRY, SUBSCRIPTION_ID, SESSION_EXPIRY = 0x02, 0x0B, 0x11
ASSIGNED_ID, TOPIC_ALIAS = 0x12, 0x23
# Property id -> encoding: n bytes, "v" variable byte integer, "s" string or
# binary data (2-byte length), "p" string pair.
_PROPERTIES: dict[int, Any] = {
    0x01: 1, 0x02: 4, 0x03: "s", 0x08: "s", 0x09: "s", 0x0B: "v", 0x11: 4,
    0x12: "s", 0x13: 2, 0x15: "s", 0x16: "s", 0x17: 1, 0x18: 4, 0x19: 1,
    0x1A: "s", 0x1C: "s", 0x1F: "s", 0x21: 2, 0x22: 2, 0x23: 2, 0x24: 1,
    0x25: 1, 0x26: "p", 0x27: 4, 0x28: 1, 0x29: 1, 0x2A: 1,
}  # fmt: skip
Properties = list[tuple[int, bytes]]  # (id, encoded value), in packet order


class ProtocolError(Exception):
    """Close the connection, telling the client this reason code."""

    def __init__(self, reason: int = 0x82) -> None:  # 0x82: protocol error
        super().__init__(f"reason 0x{reason:02x}")
        self.reason = reason


# --- wire format ---------------------------------------------------------------


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data, self.pos = data, 0

    def take(self, n: int) -> bytes:
        if self.pos + n > len(self.data):
            raise ProtocolError(0x81)  # malformed packet
        self.pos += n
        return self.data[self.pos - n : self.pos]

    def uint(self, n: int) -> int:
        return int.from_bytes(self.take(n), "big")

    def varint(self) -> int:
        value = 0
        for shift in range(0, 28, 7):
            byte = self.uint(1)
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
        raise ProtocolError(0x81)

    def binary(self) -> bytes:
        return self.take(self.uint(2))

    def text(self) -> str:
        try:
            return self.binary().decode()
        except UnicodeDecodeError:
            raise ProtocolError(0x81) from None

    def more(self) -> bool:
        return self.pos < len(self.data)

    def properties(self) -> Properties:
        end, out = self.varint() + self.pos, []
        while self.pos < end:
            pid = self.uint(1)
            kind, start = _PROPERTIES.get(pid), self.pos
            if kind is None:
                raise ProtocolError(0x81)
            if kind == "v":
                self.varint()
            elif kind in ("s", "p"):
                self.binary()
                if kind == "p":
                    self.binary()
            else:
                self.take(kind)
            out.append((pid, self.data[start : self.pos]))
        if self.pos != end:
            raise ProtocolError(0x81)
        return out


def _prop(props: Properties, pid: int) -> int | None:
    return next((int.from_bytes(v, "big") for p, v in props if p == pid), None)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        n, byte = n >> 7, n & 0x7F
        out.append(byte | 0x80 if n else byte)
        if not n:
            return bytes(out)


def _str(value: str) -> bytes:
    data = value.encode()
    return struct.pack("!H", len(data)) + data


def _props(props: Properties) -> bytes:
    body = b"".join(bytes([pid]) + value for pid, value in props)
    return _varint(len(body)) + body


def _packet(kind: int, body: bytes, flags: int = 0) -> bytes:
    return bytes([kind << 4 | flags]) + _varint(len(body)) + body


async def _read_packet(reader: asyncio.StreamReader) -> tuple[int, int, bytes]:
    first, length = (await reader.readexactly(1))[0], 0
    for shift in range(0, 28, 7):
        byte = (await reader.readexactly(1))[0]
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
    else:
        raise ProtocolError(0x81)
    if length > MAX_PACKET:
        raise ProtocolError(0x95)  # packet too large
    body = await reader.readexactly(length) if length else b""
    return first >> 4, first & 0x0F, body
