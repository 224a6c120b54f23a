"""What ships in deploy/ and the Procfile is what runs: honcho starts the four
processes, the systemd units run the same commands, gunicorn's metrics add up
across workers."""

from __future__ import annotations

import http.client
import os
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.mosquitto import DEPLOY_ACL, start_broker
from tests.support.servers import free_port

REPO_ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def procfile() -> dict[str, str]:
    lines = (REPO_ROOT / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip())


def test_systemd_units_run_the_procfile_commands():
    units = REPO_ROOT / "deploy" / "systemd"
    for name, command in procfile().items():
        unit = (units / f"landdesk-{name}.service").read_text()
        exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1)
        words = shlex.split(exec_start.replace("/opt/landdesk/.venv/bin/", ""))
        expected = shlex.split(command)
        if name == "doors":  # one persistent session per host
            assert words[-1] == "landdesk-listener-%H"
            assert expected[-1] == "landdesk-listener-$(hostname)"
            words, expected = words[:-1], expected[:-1]
        assert words == expected
        assert "EnvironmentFile=/etc/landdesk/landdesk.env" in unit
        target = (units / "landdesk.target").read_text()
        assert f"landdesk-{name}.service" in target


def _get(port: int, path: str, headers: dict | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path, headers=headers or {})
        answer = conn.getresponse()
        return answer.status, answer.read()
    finally:
        conn.close()


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = predicate()
        except OSError:
            result = None
        if result:
            return result
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def broker():
    b = start_broker({"landdesk": "pw"}, DEPLOY_ACL)
    yield b
    b.close()


def test_honcho_starts_web_jobs_mail_and_doors(app, db, database_url, broker, tmp_path):
    from booking.ops.models import JobState

    port = free_port()
    (tmp_path / ".env").write_text(
        "\n".join(
            [
                "LANDDESK_SECRET_KEY=honcho-test-secret-0123456789abcdef0123456789",
                f"LANDDESK_DATABASE_URL={database_url}",
                f"LANDDESK_MQTT_URL={broker.url('landdesk')}",
                "LANDDESK_MAIL_DELIVERY=worker",
                "LANDDESK_WORKERS=2",
                "LANDDESK_JOBS_TICK_S=1",
            ]
        )
    )
    env = {**os.environ, "PATH": f"{BIN}:{os.environ['PATH']}", "PYTHONUNBUFFERED": "1"}
    honcho = subprocess.Popen(
        [
            str(BIN / "honcho"),
            "start",
            "-f",
            str(REPO_ROOT / "Procfile"),
            "-d",
            str(REPO_ROOT),
            "-e",
            str(tmp_path / ".env"),
            "-p",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        status, body = _wait(
            lambda: (answer := _get(port, "/readyz"))[0] == 200 and answer,
            60,
            "web /readyz",
        )
        assert b'"broker":"ok"' in body.replace(b" ", b"")

        def jobs_ran():
            db.expire_all()
            done = db.scalars(
                select(JobState.name).where(JobState.last_outcome.is_not(None))
            ).all()
            db.rollback()
            return len(done) >= 6

        _wait(jobs_ran, 60, "the jobs process")
        assert honcho.poll() is None, "a process stopped"
    finally:
        os.killpg(honcho.pid, signal.SIGTERM)
        output, _ = honcho.communicate(timeout=60)
    for name in ("web", "jobs", "mail", "doors"):
        assert f"{name}.1 " in output, output
    assert "listening to" in output  # doors
    assert "running jobs as" in output
    assert "exited with code 1" not in output, output


def test_metrics_add_up_across_gunicorn_workers(app, database_url, tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from prometheus_client.parser import text_string_to_metric_families

    from tests.support.servers import start_app_server

    metrics_dir = tmp_path / "metrics"
    server = start_app_server(
        database_url,
        workers=2,
        env={
            "LANDDESK_METRICS_TOKEN": "t",
            "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir),
        },
        extra_args=["-c", str(REPO_ROOT / "deploy" / "gunicorn.conf.py")],
    )
    try:
        with ThreadPoolExecutor(8) as pool:
            statuses = list(
                pool.map(lambda _: _get(server.port, "/readyz")[0], range(40))
            )
        assert statuses == [200] * 40
        # Both workers answered some (each writes a file of its own) ...
        workers = server.worker_pids()
        assert len(workers) == 2
        for pid in workers:
            assert (metrics_dir / f"histogram_{pid}.db").exists()
        # ... and any worker's scrape counts all 40.
        for _ in range(4):
            status, body = _get(server.port, "/metrics", {"Authorization": "Bearer t"})
            assert status == 200
            counts = {
                tuple(sorted(s.labels.items())): s.value
                for family in text_string_to_metric_families(body.decode())
                for s in family.samples
                if s.name == "landdesk_http_request_duration_seconds_count"
            }
            assert counts[(("method", "GET"), ("route", "/readyz"))] == 40
    finally:
        server.stop()
