"""Door secrets at rest: AES-GCM with a key derived from SECRET_KEY.

A database dump alone does not reveal a door's signing secret; the dump plus
the service's SECRET_KEY does. Changing SECRET_KEY makes the stored secrets
unreadable: rotate every door's secret afterwards (docs/access.md).
"""

from __future__ import annotations

import base64
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_INFO = b"landdesk door secret v1"
_PREFIX = "v1:"


class SecretUnreadable(Exception):
    """The stored secret was sealed with another SECRET_KEY, or altered."""


def _key(secret_key: str | bytes) -> bytes:
    raw = secret_key.encode() if isinstance(secret_key, str) else secret_key
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(raw)


def seal(plain: str, secret_key: str | bytes, *, door_id: int) -> str:
    """Encrypt a door secret; the door id is bound in as associated data."""
    nonce = os.urandom(12)
    sealed = AESGCM(_key(secret_key)).encrypt(
        nonce, plain.encode(), str(door_id).encode()
    )
    return _PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode()


def unseal(stored: str, secret_key: str | bytes, *, door_id: int) -> str:
    """Decrypt what ``seal`` made; raises SecretUnreadable."""
    if not stored.startswith(_PREFIX):
        raise SecretUnreadable("unknown format")
    try:
        blob = base64.urlsafe_b64decode(stored[len(_PREFIX) :])
        plain = AESGCM(_key(secret_key)).decrypt(
            blob[:12], blob[12:], str(door_id).encode()
        )
    except (ValueError, InvalidTag):
        raise SecretUnreadable("wrong key or altered") from None
    return plain.decode()
