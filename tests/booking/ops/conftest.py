"""Helpers for the operations tests: the real ``flask`` command in a process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def flask_command(database_url):
    """Run ``flask --app booking ARGS`` as its own process on the test database."""

    def run(*args: str, env: dict | None = None, **popen) -> subprocess.Popen:
        environment = {
            **os.environ,
            "LANDDESK_SECRET_KEY": "test-ops-secret-0123456789abcdef0123456789",
            "LANDDESK_DATABASE_URL": database_url,
            "LANDDESK_MAIL_URL": "console",
            **(env or {}),
        }
        return subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "booking", *args],
            cwd=REPO_ROOT,
            env=environment,
            text=True,
            **{"stdout": subprocess.PIPE, "stderr": subprocess.PIPE, **popen},
        )

    return run
