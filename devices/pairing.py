"""Pairing: the controller fetches its configuration with a pairing code.

``python -m devices.controller --pair <service URL> <code>`` posts the code
once to ``<service URL>/api/v1/doors/pair``, writes the answer (door id,
broker URL with the door's own login, topic prefix, signing secret) into the
configuration file (mode 600) and then runs with it. The code works once; a
used or expired one is answered with 410 and nothing is written.

Standard library only (urllib), like the rest of the door side it never
imports the booking service.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from devices.messages import BrokerUrl, secret_key, validate_door_id

TIMEOUT_S = 20


class PairingFailed(RuntimeError):
    """The service refused the code or could not be reached; ``str`` says why."""


def fetch_config(service_url: str, code: str, timeout: float = TIMEOUT_S) -> dict:
    """POST the code and return the checked configuration. Raises PairingFailed."""
    parts = urlsplit(service_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise PairingFailed(f"not a service address: {service_url!r}")
    url = service_url.rstrip("/") + "/api/v1/doors/pair"
    request = urllib.request.Request(
        url,
        data=json.dumps({"code": code}).encode(),
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            data = json.loads(response.read(64 * 1024))
    except urllib.error.HTTPError as error:
        raise PairingFailed(_refusal(error)) from None
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        raise PairingFailed(f"service not reachable: {error}") from None
    except ValueError:
        raise PairingFailed("the service's answer is not JSON") from None
    return _checked(data)


def _refusal(error: urllib.error.HTTPError) -> str:
    try:
        message = json.loads(error.read(16 * 1024)).get("message", "")
    except (ValueError, AttributeError, OSError):
        message = ""
    if error.code == 410:
        return f"pairing code used or expired (410): {message}".strip()
    if error.code == 404:
        return f"unknown pairing code (404): {message}".strip()
    return f"service answered {error.code}: {message}".strip()


def _checked(data: Any) -> dict:
    try:
        door_id = validate_door_id(str(data["door_id"]))
        BrokerUrl.parse(data["mqtt_url"])
        secret_key(data["secret"])
        prefix = str(data["prefix"])
        open_s = int(data["open_s"])
    except (KeyError, TypeError, ValueError) as error:
        raise PairingFailed(
            f"incomplete configuration from the service: {error}"
        ) from None
    return {
        "door_id": door_id,
        "mqtt_url": data["mqtt_url"],
        "prefix": prefix,
        "secret": data["secret"],
        "open_s": open_s,
    }


def _toml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a valid TOML basic string


def write_config(path: str | Path, config: dict) -> Path:
    """Write the controller's TOML file (mode 600: it holds the secret)."""
    path = Path(path)
    state = path.with_suffix(".state.json").name
    text = (
        "# Written by `python -m devices.controller --pair`; pair again to renew.\n"
        "[mqtt]\n"
        f"url = {_toml_string(config['mqtt_url'])}\n"
        f"prefix = {_toml_string(config['prefix'])}\n\n"
        "[door]\n"
        f"id = {_toml_string(config['door_id'])}\n"
        f"secret = {_toml_string(config['secret'])}\n"
        f"open_s = {config['open_s']}\n"
        f"max_open_s = {max(15, config['open_s'])}\n"
        f"state_file = {_toml_string(state)}\n"
    )
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.replace(temporary, path)
    return path


def pair(service_url: str, code: str, path: str | Path) -> Path:
    """Fetch the configuration with ``code`` and write it to ``path``."""
    return write_config(path, fetch_config(service_url, code))
