"""Who may do what on the embedded demo broker (devices.embedded_broker):
topic filters, Mosquitto's ACL file and the plain password file.

Standard library only, like the broker.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


def topic_matches(pattern: str, topic: str) -> bool:
    """Does the filter match the topic name? Wildcards in the first level do
    not match ``$``-topics."""
    if topic.startswith("$") and pattern[:1] in ("+", "#"):
        return False
    levels, names = pattern.split("/"), topic.split("/")
    for i, level in enumerate(levels):
        if level == "#":
            return True
        if i >= len(names) or level not in ("+", names[i]):
            return False
    return len(levels) == len(names)


def valid_filter(pattern: str) -> bool:
    levels = pattern.split("/")
    wild = [level for level in levels if "+" in level or "#" in level]
    return (
        bool(pattern)
        and all(level in ("+", "#") for level in wild)
        and "#" not in levels[:-1]
    )


@dataclass
class Acl:
    """Mosquitto's ``acl_file``: rules of a user, plus patterns for everyone."""

    users: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    patterns: list[tuple[str, str]] = field(default_factory=list)
    allow_all: bool = False

    @classmethod
    def parse(cls, text: str) -> Acl:
        acl, user = cls(), None
        for number, raw in enumerate(text.splitlines(), 1):
            keyword, _, rest = raw.strip().partition(" ")
            rest = rest.strip()
            if not keyword or keyword.startswith("#"):
                continue
            if keyword == "user":
                user = rest
                acl.users.setdefault(user, [])
                continue
            if keyword not in ("topic", "pattern") or not rest:
                raise ValueError(f"ACL line {number}: {raw.strip()!r}")
            access, _, name = rest.partition(" ")
            if access not in ("read", "write", "readwrite"):
                access, name = "readwrite", rest
            if keyword == "pattern":
                acl.patterns.append((access, name.strip()))
            elif user is not None:  # rules before any "user": anonymous (refused)
                acl.users[user].append((access, name.strip()))
        return acl

    def allows(self, username: str, topic: str, access: str) -> bool:
        if self.allow_all:
            return True
        rules = list(self.users.get(username, ()))
        # Like Mosquitto: a user name with wildcards or "/" gets no patterns.
        if not any(c in username for c in "+#/"):
            rules += [(a, p.replace("%u", username)) for a, p in self.patterns]
        return any(access in a and topic_matches(p, topic) for a, p in rules)


def load_users(path: str | Path) -> dict[str, str]:
    users = {}
    for line in Path(path).read_text().splitlines():
        name, sep, password = line.strip().partition(":")
        if not name or name.startswith("#"):
            continue
        if not sep or password.startswith(("$6$", "$7$")):
            raise ValueError(f"{path}: want plain 'user:password' lines")
        users[name] = password
    return users
