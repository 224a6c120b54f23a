"""The controller's persistent state: one JSON file, written atomically."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger("landdesk.door")


class StateStore:
    """The controller's JSON state file: seen command ids (with the time until
    which they must be remembered), revoked PINs (likewise: until their
    window ends), keypad throttle, queued events.

    Writes are atomic (temporary file, fsync, rename). Without a path the
    store lives in memory only.
    """

    def __init__(self, path: str | Path | None) -> None:
        self.path = Path(path) if path else None
        self.seen: dict[str, int] = {}
        # "start:slots:index" -> end of the PIN's window (unix seconds).
        self.revoked: dict[str, int] = {}
        self.pin: dict[str, float] = {"failures": 0, "level": 0, "locked_until": 0}
        self.queue: list[dict[str, Any]] = []
        self.load()

    def load(self) -> None:
        if self.path is None or not self.path.exists():
            return
        try:
            data = json.loads(self.path.read_text())
            self.seen = {str(k): int(v) for k, v in data.get("seen", {}).items()}
            self.revoked = {str(k): int(v) for k, v in data.get("revoked", {}).items()}
            self.pin.update(data.get("pin", {}))
            self.queue = list(data.get("queue", []))
        except (ValueError, TypeError, AttributeError):
            # Commands live at most 30 s, so losing seen ids is safe once the
            # file is older than that; revoked PINs come back with the
            # retained list at the next connect. Keep the broken file.
            broken = self.path.with_suffix(".corrupt")
            os.replace(self.path, broken)
            log.error("state file unreadable, moved to %s", broken)

    def save(self) -> None:
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(self.path.name + ".tmp")
        data = {
            "seen": self.seen,
            "revoked": self.revoked,
            "pin": self.pin,
            "queue": self.queue,
        }
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            json.dump(data, fh, separators=(",", ":"))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)

    def prune_seen(self, now: float) -> dict[str, int]:
        for command_id in [k for k, until in self.seen.items() if until < now]:
            del self.seen[command_id]
        return self.seen

    def revoked_keys(self, now: float) -> set[tuple[int, int, int]]:
        """The revoked PINs whose window has not ended, as (start, slots, index)."""
        for key in [k for k, until in self.revoked.items() if until <= now]:
            del self.revoked[key]
        keys = set()
        for key in self.revoked:
            start, slots, index = (int(part) for part in key.split(":"))
            keys.add((start, slots, index))
        return keys

    def add_revoked(self, keys: list[tuple[int, int, int]], now: float) -> int:
        """Remember revoked PINs until their window ends; return how many are new."""
        added = 0
        for start, slots, index in keys:
            until = (start + slots) * 1800
            name = f"{start}:{slots}:{index}"
            if until > now and name not in self.revoked:
                self.revoked[name] = until
                added += 1
        return added
