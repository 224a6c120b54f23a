"""GET /metrics: Prometheus text, only with the bearer token."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

TOKEN = "metrics-token-for-tests"


@pytest.fixture
def app_config(app_config):
    return {**app_config, "METRICS_TOKEN": TOKEN}


def scrape(client) -> dict[tuple[str, tuple], float]:
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    assert answer.content_type.startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(answer.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_metrics_need_the_token(client):
    assert client.get("/metrics").status_code == 401
    wrong = client.get("/metrics", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert client.get("/metrics", headers={"Authorization": TOKEN}).status_code == 401


def test_no_token_configured_no_metrics(app, client):
    app.config["METRICS_TOKEN"] = None
    assert client.get("/metrics").status_code == 404
    assert (
        client.get("/metrics", headers={"Authorization": "Bearer "}).status_code == 404
    )


def test_request_latency_by_route(client):
    key = (
        "landdesk_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "/healthz")),
    )
    before = scrape(client).get(key, 0)
    for _ in range(3):
        client.get("/healthz")
    assert scrape(client)[key] == before + 3
    unmatched = (
        "landdesk_http_request_duration_seconds_count",
        (("method", "GET"), ("route", "unmatched")),
    )
    before = scrape(client).get(unmatched, 0)
    client.get("/no/such/page")
    assert scrape(client)[unmatched] == before + 1


def test_database_gauges_and_job_success(app, client):
    samples = scrape(client)
    assert samples[("landdesk_doors_online", ())] == 0
    assert samples[("landdesk_mails_waiting", ())] == 0
    assert not any(name.startswith("landdesk_job_last") for name, _ in samples)
    app.test_cli_runner().invoke(args=["jobs", "run", "--once"])
    samples = scrape(client)
    assert (
        "landdesk_job_last_success_timestamp_seconds",
        (("job", "expire-holds"),),
    ) in samples
    # Skipped is not a success.
    assert (
        "landdesk_job_last_success_timestamp_seconds",
        (("job", "billing-reconcile"),),
    ) not in samples
    assert samples[("landdesk_job_failing", (("job", "expire-holds"),))] == 0


def _value(name: str, **labels) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_bookings_created_and_refused_are_counted(
    app, db, client, create_user, create_location, create_resource
):
    from booking.bookings.services import BookingRequest, create_booking
    from booking.errors import DomainError
    from tests.conftest import next_weekday

    desk = create_resource(create_location())
    created = _value("landdesk_bookings_total", outcome="created")
    refused = _value("landdesk_bookings_total", outcome="refused")
    day = next_weekday(2)
    create_booking(db, create_user(), BookingRequest(desk.id, on=day))
    with pytest.raises(DomainError):
        create_booking(db, create_user(), BookingRequest(desk.id, on=day))
    samples = scrape(client)
    outcome = "landdesk_bookings_total"
    assert samples[(outcome, (("outcome", "created"),))] == created + 1
    assert samples[(outcome, (("outcome", "refused"),))] == refused + 1


def test_a_booking_its_request_then_rolls_back_is_not_counted(
    app, db, client, auth, create_user, create_location, create_resource
):
    """The count follows the commit (events.booking_placed, counted on
    commit), not the call: a request that fails after booking keeps nothing,
    and counts nothing as created."""
    from booking.bookings.models import Booking
    from booking.bookings.services import BookingRequest, create_booking
    from booking.db import get_db
    from booking.errors import InvalidInput
    from tests.conftest import next_weekday

    desk = create_resource(create_location())
    member_id = create_user().id
    day = next_weekday(2)

    def book_then_fail():
        from booking.auth.models import User

        session = get_db()
        create_booking(
            session, session.get(User, member_id), BookingRequest(desk.id, on=day)
        )
        raise InvalidInput("the second step failed")

    app.add_url_rule(
        "/test/book-then-fail", "book_then_fail", book_then_fail, methods=["POST"]
    )
    created = _value("landdesk_bookings_total", outcome="created")

    answer = client.post("/test/book-then-fail", data={"csrf_token": auth.csrf()})

    assert answer.status_code == 400
    assert db.query(Booking).filter_by(user_id=member_id).count() == 0
    created_key = ("landdesk_bookings_total", (("outcome", "created"),))
    assert scrape(client)[created_key] == created


def test_unlock_outcomes_and_latency_are_counted(
    app, db, client, create_user, create_location
):
    from booking.access.services import create_door, unlock_door
    from booking.errors import DomainError

    location = create_location()
    operator = location.operators[0]
    door, _secret = create_door(
        db, operator, location.id, {"name": "Entrance", "kind": "landdesk"}
    )
    denied = _value("landdesk_unlocks_total", outcome="denied")
    unavailable = _value("landdesk_unlocks_total", outcome="unavailable")
    timed = _value("landdesk_unlock_duration_seconds_count")
    with pytest.raises(DomainError):
        unlock_door(db, create_user(), door.id)  # no booking: denied
    with pytest.raises(DomainError):
        unlock_door(db, operator, door.id)  # allowed, but no broker configured
    samples = scrape(client)
    assert samples[("landdesk_unlocks_total", (("outcome", "denied"),))] == denied + 1
    assert (
        samples[("landdesk_unlocks_total", (("outcome", "unavailable"),))]
        == unavailable + 1
    )
    # Only an unlock that went to the door is timed.
    assert samples[("landdesk_unlock_duration_seconds_count", ())] == timed + 1


def test_failed_mails_are_counted(app, client):
    from booking.mail import send_mail
    from tests.support.servers import free_port

    app.config["MAIL_URL"] = f"smtp://127.0.0.1:{free_port()}"  # nobody listens
    before = _value("landdesk_mails_failed_total")
    with pytest.raises(OSError):
        send_mail("someone@example.org", "Hello", "Text")
    assert scrape(client)[("landdesk_mails_failed_total", ())] == before + 1
