"""This process's door link (access.mqtt), wired to store what doors report
(access.reports)."""

from __future__ import annotations

import os
import threading
from typing import Any

from ..db import get_db
from .mqtt import DoorLink, Report
from .reports import store_report

_create_lock = threading.Lock()


def get_link(app: Any, **options: Any) -> DoorLink | None:
    """This process's link for the app, started on first use; None without
    ``MQTT_URL``. A forked worker gets its own (a paho client and its thread
    must never be shared across processes). ``options`` (``client_id``,
    ``session_expiry_s``: the listener's persistent session) apply when this
    call creates the link."""
    url = app.config.get("MQTT_URL")
    if not url:
        return None
    link: DoorLink | None = app.extensions.get("landdesk_door_link")
    if link is not None and link.pid == os.getpid():
        return link
    with _create_lock:
        link = app.extensions.get("landdesk_door_link")
        if link is None or link.pid != os.getpid():

            def on_report(report: Report) -> None:
                with app.app_context():
                    store_report(get_db(), report)

            link = DoorLink(
                url,
                prefix=app.config.get("MQTT_PREFIX", "landdesk"),
                on_report=on_report,
                ca_file=app.config.get("MQTT_CA_FILE"),
                connect_grace_s=float(app.config.get("MQTT_CONNECT_GRACE_S", 1.5)),
                keepalive=int(app.config.get("MQTT_KEEPALIVE_S", 5)),
                puback_timeout_s=float(app.config.get("MQTT_PUBACK_TIMEOUT_S", 1.0)),
                **options,
            ).start()
            app.extensions["landdesk_door_link"] = link
    return link


def stop_link(app: Any) -> None:
    link = app.extensions.pop("landdesk_door_link", None)
    if link is not None and link.pid == os.getpid():
        link.stop()
