"""A small MQTT 5 broker for Landdesk's zero-install demo (standard library only).

    python -m devices.embedded_broker --port 1883 --users FILE --acl FILE

``bash scripts/run`` starts it when Mosquitto is not installed. It does what
the booking service, the reference controller and paho-mqtt 2.x use:

- CONNECT (MQTT 5 only; 3.1/3.1.1 clients are refused): user name and
  password from a file of plain ``user:password`` lines (what ``flask doors
  demo-config`` writes); clean start and session expiry (a session, with its
  subscriptions and queued QoS 1 messages, lives in memory while the process
  runs); a will with QoS, retain and message expiry.
- SUBSCRIBE with ``+``/``#``, shared subscriptions ``$share/<group>/<filter>``
  (one member gets each message, round robin, connected members first), No
  Local, Retain As Published, Retain Handling.
- PUBLISH QoS 0 and 1 (PUBACK), retained messages, Message Expiry Interval
  (expired messages are dropped; the interval counts down on delivery),
  PINGREQ, DISCONNECT (reason 0x04 sends the will), keepalive (a client
  silent for 1.5 keepalives is dropped). TCP_NODELAY on every socket.
- Mosquitto's ACL file: ``user``, ``topic [read|write|readwrite] T``,
  ``pattern [...] T`` with ``%u``. An unauthorised publish is dropped (PUBACK
  0x87); a subscription is granted, but only topics the user may read are
  delivered, as Mosquitto 2.0 does.

Limits (a demo broker; use Mosquitto for anything else): no TLS, nothing
persisted to disk, no QoS 2 (CONNACK says Maximum QoS 1), no UNSUBSCRIBE,
topic aliases, subscription identifiers, enhanced authentication, will
delay, hashed passwords or ``$SYS``; Receive Maximum is not enforced; at most
1000 queued messages per offline session; packets up to 256 KiB.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hmac
import itertools
import logging
import math
import secrets
import signal
import socket
import struct
import sys
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from devices.broker_acl import Acl, load_users, topic_matches, valid_filter
from devices.mqtt_wire import (
    ASSIGNED_ID,
    CONNACK,
    CONNECT,
    DISCONNECT,
    MAX_PACKET,
    MAX_QUEUED,
    MESSAGE_EXPIRY,
    NEVER,
    PINGREQ,
    PINGRESP,
    PUBACK,
    PUBLISH,
    SESSION_EXPIRY,
    SUBACK,
    SUBSCRIBE,
    SUBSCRIPTION_ID,
    TOPIC_ALIAS,
    Properties,
    ProtocolError,
    _packet,
    _prop,
    _props,
    _read_packet,
    _Reader,
    _str,
)

log = logging.getLogger("landdesk.broker")


# --- messages, sessions, connections -------------------------------------------------


@dataclass(eq=False)
class Message:
    topic: str
    payload: bytes
    qos: int
    retain: bool
    properties: Properties  # as published, less expiry, alias, subscription ids
    expires_at: float | None = None

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def encode(self, qos: int, retain: bool, pid: int, now: float, dup: bool) -> bytes:
        props = list(self.properties)
        if self.expires_at is not None:  # what is left of it
            left = max(1, math.ceil(self.expires_at - now))
            props.append((MESSAGE_EXPIRY, struct.pack("!I", left)))
        body = _str(self.topic) + (struct.pack("!H", pid) if qos else b"")
        flags = dup << 3 | qos << 1 | int(retain)
        return _packet(PUBLISH, body + _props(props) + self.payload, flags)


@dataclass
class Subscription:
    filter: str
    qos: int
    no_local: bool
    retain_as_published: bool
    group: str | None = None  # shared subscription


Delivery = tuple[Message, int, bool]  # message, QoS, retain flag


@dataclass(eq=False)
class Session:
    client_id: str
    username: str
    expiry: int = 0
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    queue: deque[Delivery] = field(default_factory=deque)
    inflight: dict[int, Delivery] = field(default_factory=dict)
    connection: Connection | None = None
    expiry_timer: asyncio.TimerHandle | None = None
    pids: Any = field(default_factory=lambda: itertools.cycle(range(1, 65536)))

    def deliver(self, message: Message, qos: int, retain: bool, now: float) -> None:
        if message.expired(now):
            return
        if self.connection is None:  # offline: QoS 1 is queued, QoS 0 dropped
            if qos and len(self.queue) < MAX_QUEUED:
                self.queue.append((message, qos, retain))
            return
        pid = 0
        if qos:
            pid = next(p for p in self.pids if p not in self.inflight)
            self.inflight[pid] = (message, qos, retain)
        self.connection.send(message.encode(qos, retain, pid, now, dup=False))

    def resume(self, now: float) -> None:
        """After a reconnect: re-send what is in flight, then the queue."""
        assert self.connection is not None
        for pid, (message, qos, retain) in list(self.inflight.items()):
            if message.expired(now):
                del self.inflight[pid]
            else:
                self.connection.send(message.encode(qos, retain, pid, now, dup=True))
        queued, self.queue = self.queue, deque()
        for item in queued:
            self.deliver(*item, now)


class Connection:
    def __init__(self, writer: asyncio.StreamWriter) -> None:
        self.writer = writer
        self.session: Session | None = None
        self.will: tuple[str, bytes, int, bool, Properties] | None = None
        self.keepalive = 0

    def send(self, data: bytes) -> None:
        if not self.writer.is_closing():
            self.writer.write(data)

    def close(self, reason: int | None = None) -> None:
        if reason is not None and self.session is not None:
            self.send(_packet(DISCONNECT, bytes([reason, 0])))
        self.writer.close()


# --- the broker ------------------------------------------------------------------


class Broker:
    def __init__(self, users: dict[str, str], acl: Acl | None = None) -> None:
        self.users = users
        self.acl = acl or Acl(allow_all=True)
        self.sessions: dict[str, Session] = {}
        self.retained: dict[str, Message] = {}
        self._turn = itertools.count()
        self._open: dict[asyncio.Task[Any], Connection] = {}

    async def serve_forever(self, host: str, port: int) -> None:
        """Listen (``port=0``: a free port, printed) until SIGTERM or SIGINT."""
        server = await asyncio.start_server(self._serve, host, port)
        port = server.sockets[0].getsockname()[1]
        print(f"embedded MQTT broker listening on {host}:{port}", flush=True)
        loop, done = asyncio.get_running_loop(), asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, done.set)
        async with server:
            await done.wait()
            for conn in self._open.values():  # let every client task end
                conn.writer.close()
            await asyncio.gather(*self._open, return_exceptions=True)

    async def _serve(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        sock = writer.get_extra_info("socket")
        with contextlib.suppress(OSError, AttributeError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        conn, graceful = Connection(writer), False
        task = asyncio.current_task()
        assert task is not None
        self._open[task] = conn
        try:
            kind, _, body = await asyncio.wait_for(_read_packet(reader), 10)
            if kind != CONNECT or not self._connect(conn, body):
                return
            while not writer.is_closing():
                timeout = conn.keepalive * 1.5 if conn.keepalive else None
                packet = await asyncio.wait_for(_read_packet(reader), timeout)
                if packet[0] == DISCONNECT:
                    graceful = self._disconnect(conn, packet[2])
                    return
                self._handle(conn, *packet)
                await writer.drain()
        except ProtocolError as exc:
            log.info("closing %s: %s", conn.session and conn.session.client_id, exc)
            conn.close(exc.reason)
        except (asyncio.IncompleteReadError, TimeoutError, OSError):
            pass
        finally:
            self._closed(conn, publish_will=not graceful)
            del self._open[task]

    def _connect(self, conn: Connection, body: bytes) -> bool:
        r = _Reader(body)
        if r.text() != "MQTT" or r.uint(1) != 5:
            conn.send(_packet(CONNACK, bytes([0, 1])))  # 3.1.1: bad version
            conn.close()
            return False
        flags, conn.keepalive, props = r.uint(1), r.uint(2), r.properties()
        client_id = r.text()
        if flags & 0x04:
            will_props, will_topic = r.properties(), r.text()
            will_qos = min(flags >> 3 & 3, 1)
            conn.will = (will_topic, r.binary(), will_qos, bool(flags & 32), will_props)
        username = r.text() if flags & 0x80 else None
        password = r.binary() if flags & 0x40 else b""
        expected = self.users.get(username or "")
        if username is None or expected is None:
            reason = 0x87 if username is None else 0x86  # not authorized / bad login
        else:
            reason = 0 if hmac.compare_digest(expected.encode(), password) else 0x86
        if reason:
            conn.send(_packet(CONNACK, bytes([0, reason, 0])))
            conn.close()
            return False
        assert username is not None
        # Maximum QoS 1, no subscription identifiers, maximum packet size.
        ack: Properties = [(0x24, b"\x01"), (0x29, b"\x00")]
        ack.append((0x27, struct.pack("!I", MAX_PACKET)))
        if not client_id:
            client_id = f"auto-{secrets.token_hex(8)}"
            ack.append((ASSIGNED_ID, _str(client_id)))
        session = self.sessions.get(client_id)
        if session is not None and session.connection is not None:
            self._take_over(session.connection)
        if session is not None and (flags & 0x02 or session.username != username):
            self._drop(session)  # clean start, or another user's session
            session = None
        present = session is not None
        session = session or Session(client_id, username)
        if session.expiry_timer is not None:
            session.expiry_timer.cancel()
        session.expiry = _prop(props, SESSION_EXPIRY) or 0
        session.connection, conn.session = conn, session
        self.sessions[client_id] = session
        conn.send(_packet(CONNACK, bytes([int(present), 0]) + _props(ack)))
        session.resume(time.monotonic())
        return True

    def _take_over(self, old: Connection) -> None:
        """The same client id connected again: the old connection goes, its
        will published now (before the new connection can publish)."""
        assert old.session is not None
        if old.will is not None:
            self._publish_will(old.will, old.session)
        old.will, old.session.connection = None, None
        old.close(0x8E)  # session taken over

    def _disconnect(self, conn: Connection, body: bytes) -> bool:
        r = _Reader(body)
        reason = r.uint(1) if r.more() else 0
        expiry = _prop(r.properties() if r.more() else [], SESSION_EXPIRY)
        if expiry is not None and conn.session is not None:
            conn.session.expiry = expiry
        return reason != 0x04  # 0x04: "disconnect with will message"

    def _closed(self, conn: Connection, publish_will: bool) -> None:
        conn.writer.close()
        session = conn.session
        if session is None or session.connection is not conn:
            return
        session.connection = None
        if publish_will and conn.will is not None:
            self._publish_will(conn.will, session)
        if session.expiry == 0:
            self._drop(session)
        elif session.expiry != NEVER:
            session.expiry_timer = asyncio.get_running_loop().call_later(
                session.expiry, self._drop, session
            )

    def _drop(self, session: Session) -> None:
        if session.expiry_timer is not None:
            session.expiry_timer.cancel()
        if self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]

    def _publish_will(self, will: tuple[Any, ...], session: Session) -> None:
        if self.acl.allows(session.username, will[0], "write"):
            self.publish(self._message(*will), session)

    # --- packets of a connected client ---

    def _handle(self, conn: Connection, kind: int, flags: int, body: bytes) -> None:
        session = conn.session
        assert session is not None
        if kind == PUBLISH:
            self._on_publish(conn, session, flags, body)
        elif kind == PUBACK:
            session.inflight.pop(_Reader(body).uint(2), None)
        elif kind == SUBSCRIBE and flags == 2:
            self._on_subscribe(conn, session, body)
        elif kind == PINGREQ:
            conn.send(_packet(PINGRESP, b""))
        else:
            raise ProtocolError(0x82)

    @staticmethod
    def _message(
        topic: str, payload: bytes, qos: int, retain: bool, props: Properties
    ) -> Message:
        expiry = _prop(props, MESSAGE_EXPIRY)
        skip = (MESSAGE_EXPIRY, TOPIC_ALIAS, SUBSCRIPTION_ID)
        kept = [(pid, value) for pid, value in props if pid not in skip]
        expires_at = None if expiry is None else time.monotonic() + expiry
        return Message(topic, payload, qos, retain, kept, expires_at)

    def _on_publish(
        self, conn: Connection, session: Session, flags: int, body: bytes
    ) -> None:
        qos, retain = flags >> 1 & 3, bool(flags & 1)
        if qos > 1:
            raise ProtocolError(0x9B)  # QoS not supported
        r = _Reader(body)
        topic = r.text()
        pid = r.uint(2) if qos else 0
        props = r.properties()
        if not topic or "+" in topic or "#" in topic:
            raise ProtocolError(0x90)  # topic name invalid
        if _prop(props, TOPIC_ALIAS) is not None:
            raise ProtocolError(0x94)  # topic alias invalid: we allow none
        reason = 0
        if self.acl.allows(session.username, topic, "write"):
            payload = r.take(len(body) - r.pos)
            self.publish(self._message(topic, payload, qos, retain, props), session)
        else:
            log.info("%s may not publish to %s", session.username, topic)
            reason = 0x87  # not authorized
        if qos:
            conn.send(_packet(PUBACK, struct.pack("!HB", pid, reason)))

    def publish(self, message: Message, sender: Session | None = None) -> None:
        """Store a retained message and deliver to every matching subscription."""
        now, name = time.monotonic(), message.topic
        if message.retain and message.payload:
            self.retained[name] = message
        elif message.retain:
            self.retained.pop(name, None)
        plain: dict[Session, tuple[int, bool]] = {}
        groups: dict[tuple[str, str], list[tuple[Session, Subscription]]] = {}
        for session in self.sessions.values():
            if not self.acl.allows(session.username, name, "read"):
                continue
            for sub in session.subscriptions.values():
                if not topic_matches(sub.filter, name):
                    continue
                if sub.group is not None:
                    groups.setdefault((sub.group, sub.filter), []).append(
                        (session, sub)
                    )
                elif not (sub.no_local and session is sender):
                    qos, rap = plain.get(session, (0, False))
                    plain[session] = (max(qos, sub.qos), rap or sub.retain_as_published)
        for session, (qos, rap) in plain.items():
            session.deliver(message, min(qos, message.qos), message.retain and rap, now)
        for members in groups.values():
            online = [m for m in members if m[0].connection is not None] or members
            session, sub = online[next(self._turn) % len(online)]
            retain = message.retain and sub.retain_as_published
            session.deliver(message, min(sub.qos, message.qos), retain, now)

    def _on_subscribe(self, conn: Connection, session: Session, body: bytes) -> None:
        r = _Reader(body)
        pid, _ = r.uint(2), r.properties()
        codes, fresh = bytearray(), []
        while r.more():
            name, options = r.text(), r.uint(1)
            if options & 3 == 3 or options >> 6:
                raise ProtocolError(0x81)
            group, pattern = None, name
            if name.startswith("$share/"):
                _, group, pattern = (name.split("/", 2) + [""])[:3]
            if not valid_filter(pattern) or group in ("", "+", "#"):
                codes.append(0x8F)  # topic filter invalid
                continue
            new = name not in session.subscriptions
            qos, no_local, rap = min(options & 3, 1), bool(options & 4), options & 8
            sub = Subscription(pattern, qos, no_local, bool(rap), group)
            session.subscriptions[name] = sub
            codes.append(qos)
            handling = options >> 4 & 3  # 0: send retained, 1: if new, 2: never
            if group is None and (handling == 0 or (handling == 1 and new)):
                fresh.append(sub)
        if not codes:
            raise ProtocolError(0x82)
        conn.send(_packet(SUBACK, struct.pack("!H", pid) + _props([]) + codes))
        now = time.monotonic()
        for name, message in list(self.retained.items()):
            if message.expired(now):
                del self.retained[name]
            elif self.acl.allows(session.username, name, "read"):
                qos = max(
                    (s.qos for s in fresh if topic_matches(s.filter, name)), default=-1
                )
                if qos >= 0:
                    session.deliver(message, min(qos, message.qos), True, now)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devices.embedded_broker",
        description="A small MQTT 5 broker for Landdesk's demo (not for production).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=1883, help="0: a free port")
    parser.add_argument("--users", required=True, help="file of user:password lines")
    parser.add_argument("--acl", help="Mosquitto acl_file (default: allow all)")
    parser.add_argument("--log-level", default="WARNING")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        users = load_users(args.users)
        acl = Acl.parse(Path(args.acl).read_text()) if args.acl else None
    except (OSError, ValueError) as exc:
        print(f"embedded broker: {exc}", file=sys.stderr)
        return 2
    asyncio.run(Broker(users, acl).serve_forever(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
