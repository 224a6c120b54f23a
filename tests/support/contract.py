"""Every /api/v1 answer the suite receives is checked against the document.

tests/conftest.py's test client calls ``check_answer`` after each request:
the status must be documented for that operation and a JSON body must match
the schema that /api/v1/openapi.json gives for it.
"""

from __future__ import annotations

import json
import re

import jsonschema_rs
from werkzeug.exceptions import HTTPException

from booking.api.contract import PREFIX, build_openapi

_validators: dict[tuple, jsonschema_rs.Validator] = {}
# The document depends on the code only, not on an app's configuration:
# built once for the session rather than once per test's app.
_documents: list[dict] = []


def _document(app) -> dict:
    if not _documents:
        _documents.append(build_openapi(app))
    return _documents[0]


def _validator(document: dict, key: tuple, schema: dict):
    validator = _validators.get(key)
    if validator is None:
        # The answer's schema refers to the document's components.
        root = {**schema, "components": document["components"]}
        validator = _validators[key] = jsonschema_rs.Draft202012Validator(root)
    return validator


def check_answer(app, method: str, path: str, response) -> None:
    if not path.startswith(PREFIX + "/") or method in ("HEAD", "OPTIONS"):
        return
    adapter = app.url_map.bind("localhost")
    try:
        rule, _ = adapter.match(path, method, return_rule=True)
    except HTTPException:
        return  # no such route or method: the error handlers answer
    document = _document(app)
    api_path = _api_path(rule.rule)
    operation = document["paths"][api_path][method.lower()]
    status = str(response.status_code)
    answers = operation["responses"]
    assert status in answers, (
        f"{method} {path} answered {status}, not documented "
        f"(documented: {sorted(answers)}): {response.get_data(as_text=True)[:300]}"
    )
    content = answers[status].get("content")
    body = response.get_data()
    if content is None:
        assert not body, f"{method} {path} {status} has an undocumented body"
        return
    media = response.mimetype
    assert media in content, f"{method} {path} {status}: {media} not documented"
    if not media.endswith("json"):
        return
    validator = _validator(
        document, (api_path, method, status, media), content[media]["schema"]
    )
    errors = [str(e) for e in validator.iter_errors(json.loads(body))]
    assert not errors, f"{method} {path} {status} breaks its schema: {errors[:3]}"


def _api_path(rule: str) -> str:
    return re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule).removeprefix(PREFIX)
