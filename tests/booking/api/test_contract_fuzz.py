"""schemathesis against /api/v1/openapi.json: generated requests, valid and
invalid, for every operation; the answers must keep the document (status
documented, schema and content type kept, no 500, invalid input refused,
405 with Allow). Derandomized, with a bounded number of examples, so it is
repeatable and takes a minute or two.
"""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from booking.auth.models import SessionKind
from booking.auth.services import start_session

EXAMPLES = 12


@pytest.fixture
def member(create_user, create_location, create_resource):
    # A member with a location of desks and a room to book; the operator
    # routes answer 403 to them, and no URL given in a calendar import is
    # ever fetched (that needs an operator).
    location = create_location(horizon_days=60)
    create_resource(location, "desk", "Desk 1")
    create_resource(location, "room", "Room", capacity=4)
    return create_user("fuzz@example.org")


def _check(app, db, member, operation, mode: GenerationMode) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        # A fresh token per request: a generated logout or account deletion
        # must not log the next request out.
        token = start_session(db, member, SessionKind.API)
        case.call_and_validate(
            headers={"Authorization": f"Bearer {token}", "Accept-Language": "en"},
            # Generated ids mostly name nothing: 404 is right there.
            excluded_checks=[positive_data_acceptance],
        )

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_operation_keeps_the_contract(app, db, member, mode):
    def isolated(environ, start_response):
        # Each request in its own application context, as in production
        # (the test holds one for the factories).
        with app.app_context():
            return app(environ, start_response)

    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", isolated)
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            _check(app, db, member, operation, mode)
        except Unsatisfiable:
            pass  # nothing to make invalid (no parameters, no body)
        except (Exception, BaseExceptionGroup) as error:  # report all together
            failures.append(f"{operation.label}: {error}")
    assert not failures, "\n\n".join(failures)
