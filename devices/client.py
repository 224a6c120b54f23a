"""paho-mqtt client setup shared by the controller and its vendor bridge."""

from __future__ import annotations

import contextlib
import socket
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from devices.messages import BrokerUrl


def set_nodelay(client: mqtt.Client, userdata: Any, sock: Any) -> None:
    # Small command/ack packets: do not let Nagle hold them back.
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def close_client(client: mqtt.Client) -> None:
    client.disconnect()
    client.loop_stop()
    # loop_stop() leaves paho's internal wake-up socket pair open until the
    # client is garbage-collected; reinitialise() closes it now.
    client.reinitialise()


def make_client(client_id: str, url: BrokerUrl, ca_file: str | None) -> mqtt.Client:
    """An MQTT v5 client with TCP_NODELAY and reconnect back-off 1-30 s."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5
    )
    if url.username is not None:
        client.username_pw_set(url.username, url.password)
    if url.tls:
        client.tls_set(ca_certs=ca_file)
    client.on_socket_open = set_nodelay
    client.reconnect_delay_set(1, 30)
    return client
