"""Pairing a Landdesk door module: a code instead of a secret and a file.

The operator asks for a pairing code (valid 24 h, single use, stored as its
SHA-256). The controller, started with
``python -m devices.controller --pair <service URL> <code>``, trades the code
once at ``POST /api/v1/doors/pair`` for its whole configuration: door id,
broker URL with a login of its own, topic prefix and a fresh signing secret.
A used, withdrawn or expired code answers 410.

The door's broker password is derived from SECRET_KEY and the door's current
(sealed) secret, so it changes with every pairing and rotation and is never
stored. With ``MQTT_PASSWORD_FILE`` set, the service writes the door's line
(Mosquitto's own PBKDF2-SHA512 format) into that file after the commit; the
broker reads it again on SIGHUP (deploy/mosquitto/README.md: a systemd path
unit reloads it when the file changes).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from devices import messages

from ..auth.models import User
from ..db import on_commit, unit_of_work, utcnow
from ..errors import DomainError, InvalidInput, NotFound
from .crypto import seal
from .doors import app_secret_key, get_managed_door
from .models import Door, DoorKind, DoorPairing

PAIRING_LIFETIME = timedelta(hours=24)
# Crockford's base32 without I, L, O, U: nothing to confuse when typed.
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12  # 60 bits; the exchange is rate-limited as well
MOSQUITTO_ITERATIONS = 101  # what mosquitto_passwd 2.0 writes


class PairingGone(DomainError):
    status = 410
    code = "pairing_gone"
    default_message = _l(
        "This pairing code was used already or has expired. Ask for a new one "
        "on the door's page."
    )


@dataclass(frozen=True)
class DoorConfig:
    """What a paired controller needs; written into its configuration file."""

    door_id: str
    mqtt_url: str
    prefix: str
    secret: str
    open_s: int


def new_code() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(code: str) -> str:
    """Upper case, without the dashes and spaces people type; O→0, I/L→1."""
    text = "".join(ch for ch in str(code or "").upper() if ch not in " -")
    return text.translate(str.maketrans("OIL", "011"))


def format_code(code: str) -> str:
    """ "ABCD-EFGH-JKMN": three groups to read out and type."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


def _hash(code: str) -> str:
    return hashlib.sha256(normalise_code(code).encode()).hexdigest()


def start_pairing(
    db: Session, actor: User, door_id: int, now: datetime | None = None
) -> tuple[Door, str, datetime]:
    """A new pairing code for a Landdesk door the actor runs; earlier unused
    codes of the door stop working. Returns the door, the code (shown once)
    and when it expires. Raises NotFound, Forbidden, InvalidInput."""
    now = now or utcnow()
    code = new_code()
    with unit_of_work(db):
        door = get_managed_door(db, actor, door_id)
        if door.kind != DoorKind.LANDDESK:
            raise InvalidInput(_l("Only Landdesk door modules are paired with a code."))
        db.execute(
            update(DoorPairing)
            .where(DoorPairing.door_id == door.id, DoorPairing.used_at.is_(None))
            .values(expires_at=now)
        )
        db.add(
            DoorPairing(
                door_id=door.id,
                code_hash=_hash(code),
                created_by_id=actor.id,
                created_at=now,
                expires_at=now + PAIRING_LIFETIME,
            )
        )
    return door, code, now + PAIRING_LIFETIME


def redeem(db: Session, code: str, now: datetime | None = None) -> DoorConfig:
    """Trade a pairing code for the door's configuration, once.

    The door gets a new signing secret (the old one stops working) and with
    it a new broker password. Raises NotFound (no such code), PairingGone.
    """
    now = now or utcnow()
    normal = normalise_code(code)
    if len(normal) != CODE_LENGTH or any(ch not in ALPHABET for ch in normal):
        raise NotFound(_l("There is no such pairing code."))
    with unit_of_work(db):
        pairing = db.scalar(
            select(DoorPairing).where(DoorPairing.code_hash == _hash(normal))
        )
        if pairing is None:
            raise NotFound(_l("There is no such pairing code."))
        # One guarded statement: of two controllers racing, one wins.
        taken = db.execute(
            update(DoorPairing)
            .where(
                DoorPairing.id == pairing.id,
                DoorPairing.used_at.is_(None),
                DoorPairing.expires_at > now,
            )
            .values(used_at=now)
        )
        if taken.rowcount != 1:
            raise PairingGone()
        door = db.get(Door, pairing.door_id)
        if door is None or door.kind != DoorKind.LANDDESK:
            raise PairingGone()
        secret = messages.new_secret()
        door.secret_enc = seal(secret, app_secret_key(), door_id=door.id)
        door.secret_rotated_at = now
        password = broker_password(door)
        config = DoorConfig(
            door_id=door.mqtt_id,
            mqtt_url=door_broker_url(door.mqtt_id, password),
            prefix=current_app.config.get("MQTT_PREFIX", "landdesk"),
            secret=secret,
            open_s=door.open_s,
        )
        password_file = current_app.config.get("MQTT_PASSWORD_FILE")
        if password_file:
            user = door.mqtt_id
            on_commit(db, lambda: write_broker_login(password_file, user, password))
    return config


def broker_password(door: Door) -> str:
    """The door's broker password: derived, never stored; new with each secret."""
    key = app_secret_key().encode()
    message = f"landdesk-broker-login:{door.id}:{door.secret_enc}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def door_broker_url(user: str, password: str) -> str:
    """``mqtt[s]://<door>:<password>@host:port``: the broker as doors reach it
    (MQTT_DOOR_URL, else the service's own MQTT_URL without its login)."""
    base = current_app.config.get("MQTT_DOOR_URL") or current_app.config.get("MQTT_URL")
    if not base:
        raise InvalidInput(_l("No broker is configured for the doors."))
    url = messages.BrokerUrl.parse(base)
    scheme = "mqtts" if url.tls else "mqtt"
    return f"{scheme}://{user}:{password}@{url.host}:{url.port}"


def mosquitto_hash(password: str, salt: bytes | None = None) -> str:
    """A password-file entry as mosquitto_passwd 2.0 writes it ($7$: PBKDF2-SHA512)."""
    salt = salt if salt is not None else os.urandom(12)
    digest = hashlib.pbkdf2_hmac(
        "sha512", password.encode(), salt, MOSQUITTO_ITERATIONS
    )
    return (
        f"$7${MOSQUITTO_ITERATIONS}${base64.b64encode(salt).decode()}"
        f"${base64.b64encode(digest).decode()}"
    )


def write_broker_login(path: str, user: str, password: str) -> None:
    """Add or replace ``user``'s line in Mosquitto's password file (locked,
    written to a temporary file and renamed, so the broker never reads half)."""
    target = Path(path)
    with open(target.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        lines = target.read_text().splitlines() if target.exists() else []
        kept = [line for line in lines if line.split(":", 1)[0] != user]
        kept.append(f"{user}:{mosquitto_hash(password)}")
        temporary = target.with_name(f".{target.name}.{os.getpid()}")
        temporary.write_text("\n".join(kept) + "\n")
        if target.exists():
            os.chmod(temporary, target.stat().st_mode & 0o777)
        os.replace(temporary, target)


# --- vendor devices: the login to type into the device's own app ------------


@dataclass(frozen=True)
class VendorLogin:
    host: str
    port: int
    tls: bool
    user: str
    password: str


def vendor_user(door: Door) -> str:
    """The broker login of a vendor device, as deploy/mosquitto/acl names it."""
    if door.kind == DoorKind.NUKI:
        return f"nuki-{door.device_id}"
    return str(door.device_id)


def vendor_login(db: Session, actor: User, door_id: int) -> tuple[Door, VendorLogin]:
    """The broker settings a Shelly, Tasmota or Nuki device needs: shown on
    the door's page on request (no-store) and, with MQTT_PASSWORD_FILE, added
    to the broker. Raises NotFound, Forbidden, InvalidInput."""
    door = get_managed_door(db, actor, door_id)
    if door.kind == DoorKind.LANDDESK:
        raise InvalidInput(_l("Landdesk door modules are paired with a code."))
    if not door.device_id:
        raise InvalidInput(
            _l("Enter the device's name first (its topic or id)."), field="device_id"
        )
    key = app_secret_key().encode()
    message = f"landdesk-vendor-login:{door.id}:{door.device_id}".encode()
    password = hmac.new(key, message, hashlib.sha256).hexdigest()[:24]
    url = messages.BrokerUrl.parse(door_broker_url("x", "y"))
    login = VendorLogin(url.host, url.port, url.tls, vendor_user(door), password)
    password_file = current_app.config.get("MQTT_PASSWORD_FILE")
    if password_file:
        write_broker_login(password_file, login.user, password)
    return door, login
