"""The lock interface every door driver implements."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from devices.messages import CommandRejected, DeviceError, DeviceOffline

__all__ = [
    "CommandRejected",
    "DeviceError",
    "DeviceOffline",
    "LockAdapter",
    "LockState",
]


@dataclass(frozen=True)
class LockState:
    """What a driver knows: is the strike released, is the device reachable."""

    unlocked: bool
    online: bool = True


@runtime_checkable
class LockAdapter(Protocol):
    """A door lock or relay.

    ``unlock`` releases the strike for ``seconds`` and must end the pulse by
    itself (timer in the driver or the device), so a lost ``lock`` call never
    leaves the door open. Raises ``DeviceOffline`` if the device cannot be
    reached and ``CommandRejected`` if it refuses.
    """

    def unlock(self, *, seconds: float) -> None: ...

    def lock(self) -> None: ...

    def state(self) -> LockState: ...
