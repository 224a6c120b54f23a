"""The jobs runner: schedules, leases, outcomes, the CLI."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from booking.db import get_database, utcnow
from booking.ops import jobs
from booking.ops.models import JobState


def _states(db) -> dict[str, JobState]:
    db.expire_all()
    return {s.name: s for s in db.scalars(select(JobState))}


def test_run_once_runs_what_is_due_and_skips_unconfigured_services(app, db):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["jobs", "run", "--once"])
    assert result.exit_code == 0, result.output
    assert "expire-holds: ok" in result.output
    assert "billing-reconcile: skipped" in result.output
    assert "STRIPE_SECRET_KEY is not set" in result.output
    assert "send-reminders: skipped" in result.output
    states = _states(db)
    assert states["expire-holds"].last_outcome == "ok"
    assert states["expire-holds"].last_success_at is not None
    assert states["expire-holds"].last_duration_ms is not None
    assert states["billing-reconcile"].last_outcome == "skipped"
    assert states["billing-reconcile"].last_success_at is None
    assert states["expire-holds"].next_run_at > utcnow()
    # Nothing is due right after.
    again = runner.invoke(args=["jobs", "run", "--once"])
    assert again.exit_code == 0 and again.output == ""
    listing = runner.invoke(args=["jobs", "list"])
    assert listing.exit_code == 0
    assert "expire-holds" in listing.output and "every 1m" in listing.output
    assert "skipped at" in listing.output


def test_a_failing_job_exits_non_zero_with_its_name(
    app, db, create_location, create_resource
):
    from booking.calendars.models import CalendarImport
    from tests.support.servers import free_port

    location = create_location()
    room = create_resource(location, kind="room")
    # Written directly: the form refuses such an address, as the fetch does.
    db.add(
        CalendarImport(
            location_id=location.id,
            resource_id=room.id,
            name="Village hall",
            url=f"http://127.0.0.1:{free_port()}/hall.ics",
            created_by_id=location.operators[0].id,
        )
    )
    db.commit()
    result = app.test_cli_runner().invoke(args=["jobs", "run", "--once"])
    assert result.exit_code == 1
    assert "failed: import-calendars" in result.output
    states = _states(db)
    assert states["import-calendars"].last_outcome == "failed"
    assert "failed" in states["import-calendars"].last_message
    # The others ran all the same; a failure is retried within minutes.
    assert states["release-unchecked"].last_outcome == "ok"
    retry = (
        states["import-calendars"].next_run_at
        - states["import-calendars"].last_started_at
    )
    assert retry == jobs.RETRY_AFTER_FAILURE


def test_a_held_lease_keeps_other_runners_out_until_it_expires(app, db):
    database = get_database()
    now = utcnow()
    jobs._ensure_rows(database)
    lease = timedelta(minutes=15)
    assert jobs._take_lease(database, "expire-holds", "host-a:1", now, lease)
    assert not jobs._take_lease(database, "expire-holds", "host-b:2", now, lease)
    # host-a died: after the lease the job is someone else's.
    later = now + lease + timedelta(seconds=1)
    assert jobs._take_lease(database, "expire-holds", "host-b:2", later, lease)
    assert _states(db)["expire-holds"].holder == "host-b:2"


def test_run_due_records_each_run_and_waits_its_period(app, db):
    database = get_database()
    outcomes = jobs.run_due(database, db, app.config, holder="t:1")
    assert {o.job for o in outcomes} == {job.name for job in jobs.JOBS}
    state = _states(db)["anonymise-door-log"]
    assert state.next_run_at - state.last_started_at == timedelta(days=1)
    assert state.holder is None and state.lease_until is None
    assert jobs.run_due(database, db, app.config, holder="t:1") == []
    # Due again once its time has come.
    with database.engine.begin() as conn:
        conn.execute(
            update(JobState)
            .where(JobState.name == "expire-holds")
            .values(next_run_at=utcnow() - timedelta(seconds=1))
        )
    assert [o.job for o in jobs.run_due(database, db, app.config)] == ["expire-holds"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("", {}),
        ("expire-holds=30s", {"expire-holds": timedelta(seconds=30)}),
        (
            "send-reminders=2h, import-calendars=off",
            {"send-reminders": timedelta(hours=2), "import-calendars": None},
        ),
        ("anonymise-door-log=1d", {"anonymise-door-log": timedelta(days=1)}),
    ],
)
def test_schedule_overrides(text, expected):
    assert jobs.parse_schedule(text) == expected


@pytest.mark.parametrize("text", ["nosuch=1m", "expire-holds=soon", "expire-holds=0"])
def test_schedule_refuses_what_it_does_not_understand(text):
    with pytest.raises(ValueError):
        jobs.parse_schedule(text)


def test_a_job_switched_off_does_not_run(app, db):
    app.config["JOBS_SCHEDULE"] = "expire-holds=off"
    outcomes = jobs.run_due(get_database(), db, app.config)
    assert "expire-holds" not in {o.job for o in outcomes}


def test_runners_in_parallel_processes_run_each_job_once(app, flask_command):
    runners = [flask_command("jobs", "run", "--once") for _ in range(3)]
    ran: list[str] = []
    for runner in runners:
        out, err = runner.communicate(timeout=120)
        assert runner.returncode == 0, err
        ran += [line.split(":")[0] for line in out.splitlines() if line]
    assert sorted(ran) == sorted(job.name for job in jobs.JOBS)
