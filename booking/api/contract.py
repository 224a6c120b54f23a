"""The /api/v1 contract, written once as typed schemas.

A view declares its operation with ``@operation(...)``: the request body and
query (``Schema`` models: parsed and validated here, unknown fields refused)
and its answers by status (``Answer`` models: the view returns instances, this
module turns them into JSON). ``build_openapi`` walks the app's /api/v1 routes
and generates /api/v1/openapi.json from the same declarations, so nothing
about the contract is written twice.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import wraps
from typing import Annotated, Any, ClassVar

from flask import Flask, Response, current_app, request
from flask_babel import lazy_gettext as _l
from pydantic import (
    BaseModel,
    ConfigDict,
    PlainSerializer,
    TypeAdapter,
    ValidationError,
    WithJsonSchema,
)
from pydantic.json_schema import models_json_schema

from ..errors import InvalidInput
from ..validation import MAX_ID

PREFIX = "/api/v1"


class Schema(BaseModel):
    """A request body or query string: unknown fields are refused (400).

    ``messages`` gives the user-facing message for a field whose value is
    not valid (the same words the services use); other fields get a
    generic one naming the field. A schema whose fields are one choice
    (``error_field``) answers every error, unknown fields included, with
    ``messages["*"]`` for that field.
    """

    model_config = ConfigDict(extra="forbid")
    messages: ClassVar[dict[str, Any]] = {}
    error_field: ClassVar[str | None] = None

    def values(self) -> dict:
        """The fields the caller sent, for services that take a mapping."""
        return self.model_dump(exclude_unset=True)


class Answer(BaseModel):
    """An answer's shape; fields left unset are left out of the JSON."""

    model_config = ConfigDict(extra="forbid")


def _utc(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


# An instant in UTC, written with "Z" as the API always has.
Instant = Annotated[
    datetime,
    PlainSerializer(_utc, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
# The door routes write instants with "+00:00" (isoformat as it is).
IsoInstant = Annotated[
    datetime,
    PlainSerializer(datetime.isoformat, return_type=str),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]
Day = date
S = typing.TypeVar("S", bound=Schema)


@dataclass(frozen=True)
class Operation:
    summary: str
    answers: dict[int, Any]
    body: type[Schema] | None = None
    query: type[Schema] | None = None
    body_required: bool = True
    public: bool = False
    media_type: str = "application/json"
    descriptions: dict[int, str] = field(default_factory=dict)
    more_content: dict[str, dict] = field(default_factory=dict)


def operation(
    summary: str,
    *,
    answers: dict[int, Any],
    body: type[Schema] | None = None,
    query: type[Schema] | None = None,
    body_required: bool = True,
    public: bool = False,
    media_type: str = "application/json",
    more_content: dict[str, dict] | None = None,
) -> Callable:
    """Declare a view's contract; the view gets ``body``/``query`` parsed.

    ``answers`` maps a status to the answer's type (an ``Answer`` model,
    ``list[Model]``, ``dict`` for a free-form object, ``None`` for no body),
    optionally as ``(type, description)``; an error status maps to its
    description (the body is the ``Error`` schema). ``more_content`` adds
    other media types of the success answer (a CSV export).
    """
    shapes: dict[int, Any] = {}
    descriptions: dict[int, str] = {}
    for status, value in answers.items():
        if status >= 400:
            descriptions[status] = value
        elif isinstance(value, tuple):
            shapes[status], descriptions[status] = value
        else:
            shapes[status] = value
    op = Operation(
        summary,
        shapes,
        body,
        query,
        body_required,
        public,
        media_type,
        descriptions,
        more_content or {},
    )

    def decorate(view: Callable) -> Callable:
        @wraps(view)
        def endpoint(*args, **kwargs):
            if op.body is not None:
                kwargs["body"] = parse(op.body, _json_body(op.body_required))
            if op.query is not None:
                kwargs["query"] = parse(op.query, request.args.to_dict())
            return render(view(*args, **kwargs))

        endpoint.api_operation = op
        return endpoint

    return decorate


def _json_body(required: bool) -> Any:
    if not required and not request.get_data(cache=True):
        return {}
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InvalidInput(_l("Send a JSON object as the request body."))
    return data


def parse(model: type[S], data: Any) -> S:
    """Validate ``data`` as ``model``; InvalidInput names the first bad field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        name = str(first["loc"][0]) if first["loc"] else None
        if model.error_field is not None:
            raise InvalidInput(model.messages["*"], field=model.error_field) from None
        if first["type"] == "extra_forbidden":
            unknown = str(first["loc"][-1])
            raise InvalidInput(
                _l("Unknown field: %(name)s.", name=unknown), field=name
            ) from None
        message = model.messages.get(name) if name else None
        if message is None:
            message = _l("%(name)s is not valid.", name=name or "body")
        raise InvalidInput(message, field=name) from None


_adapters: dict[Any, TypeAdapter] = {}


def to_json(result: Any) -> bytes:
    """An answer (a model, a list of models, or plain data) as JSON."""
    if isinstance(result, BaseModel):
        return result.__pydantic_serializer__.to_json(result, exclude_unset=True)
    if isinstance(result, list) and all(isinstance(r, BaseModel) for r in result):
        return b"[" + b",".join(to_json(item) for item in result) + b"]"
    adapter = _adapters.get(type(result))
    if adapter is None:
        adapter = _adapters[type(result)] = TypeAdapter(type(result))
    return adapter.dump_json(result)


def render(result: Any) -> Response:
    """A view's return value (answer, status, headers) as the HTTP answer."""
    if isinstance(result, Response):
        return result
    status, headers = 200, None
    if isinstance(result, tuple):
        result, status, *rest = result
        headers = rest[0] if rest else None
    if result is None:
        response = current_app.response_class(status=204 if status == 200 else status)
    else:
        response = current_app.response_class(
            to_json(result), status=status, mimetype="application/json"
        )
    if headers:
        response.headers.update(headers)
    return response


# --- the document ----------------------------------------------------------


class Error(Answer):
    """Every error answer; some add details such as ``reason``."""

    model_config = ConfigDict(extra="allow")
    error: str
    message: str
    field: str | None = None


_ERRORS = {
    400: "Invalid input",
    401: "Not logged in",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "The request body is too large",
}
_REF = "#/components/schemas/{model}"


def _shape_schema(shape: Any, models: set) -> dict:
    if isinstance(shape, type) and issubclass(shape, BaseModel):
        models.add(shape)
        return {"$ref": _REF.format(model=shape.__name__)}
    if typing.get_origin(shape) is list:
        (item,) = typing.get_args(shape)
        return {"type": "array", "items": _shape_schema(item, models)}
    if typing.get_origin(shape) is dict:
        _, value = typing.get_args(shape)
        return {"type": "object", "additionalProperties": _shape_schema(value, models)}
    if shape is dict:
        return {"type": "object"}
    if isinstance(shape, types.UnionType):
        return {"anyOf": [_shape_schema(option, models) for option in shape.__args__]}
    if shape is bytes:  # a file: a PDF, an XML document, a CSV export
        return {"type": "string", "format": "binary"}
    raise TypeError(f"no schema for {shape!r}")


def _path_of(rule: str) -> tuple[str, list[dict]]:
    params = []

    def replace(match: re.Match) -> str:
        converter, name = match.group(1), match.group(2)
        schema = {"type": "string"}
        if converter == "int":
            schema = {"type": "integer", "minimum": 0, "maximum": MAX_ID}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
        return "{" + name + "}"

    path = re.sub(r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>", replace, rule)
    return path.removeprefix(PREFIX), params


def _query_params(model: type[Schema]) -> list[dict]:
    schema = model.model_json_schema(ref_template=_REF)
    required = set(schema.get("required", ()))
    params = []
    for name, prop in schema["properties"].items():
        param = {"name": name, "in": "query", "required": name in required}
        if "description" in prop:
            param["description"] = prop.pop("description")
        prop.pop("title", None)
        param["schema"] = prop
        params.append(param)
    return params


def _error_answer(description: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": _REF.format(model="Error")}}
        },
    }


def _answers(op: Operation, has_params: bool, models: set) -> dict:
    answers: dict[str, dict] = {}
    for status, shape in op.answers.items():
        description = op.descriptions.get(status, "OK")
        if shape is None:
            answers[str(status)] = {"description": description}
            continue
        answers[str(status)] = {
            "description": description,
            "content": {
                op.media_type: {"schema": _shape_schema(shape, models)},
                **op.more_content,
            },
        }
    errors = dict(op.descriptions)
    if op.body is not None or op.query is not None:
        errors.setdefault(400, _ERRORS[400])
        # a body or a query string can be malformed in every operation
    if op.body is not None:
        errors.setdefault(413, _ERRORS[413])
    if not op.public:
        errors.setdefault(401, _ERRORS[401])
    if has_params:
        errors.setdefault(404, _ERRORS[404])
    for status in sorted(errors):
        if status >= 400:
            answers[str(status)] = _error_answer(errors[status])
    return answers


def build_openapi(app: Flask) -> dict:
    """The OpenAPI 3.1 document of every /api/v1 route (cached per app)."""
    cached = app.extensions.get("landdesk_openapi")
    if cached is not None:
        return cached
    models: set = {Error}
    body_models: set = set()
    paths: dict[str, dict] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if not rule.rule.startswith(PREFIX + "/"):
            continue
        op = getattr(app.view_functions[rule.endpoint], "api_operation", None)
        if op is None:
            raise LookupError(f"{rule.endpoint} declares no @operation")
        path, params = _path_of(rule.rule)
        item = paths.setdefault(path, {})
        if params:
            item["parameters"] = params
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            doc: dict[str, Any] = {
                "summary": op.summary,
                "operationId": rule.endpoint,
            }
            if op.public:
                doc["security"] = []
            if op.query is not None:
                doc["parameters"] = _query_params(op.query)
            if op.body is not None:
                body_models.add(op.body)
                doc["requestBody"] = {
                    "required": op.body_required,
                    "content": {
                        "application/json": {
                            "schema": {"$ref": _REF.format(model=op.body.__name__)}
                        }
                    },
                }
            doc["responses"] = _answers(op, bool(params), models)
            if method not in ("GET", "HEAD", "OPTIONS"):
                # security.py: with the session cookie, the page's CSRF token
                # (X-CSRF-Token) is needed, or the call is refused.
                doc["responses"].setdefault("403", _error_answer(_ERRORS[403]))
            item[method.lower()] = doc
    _, answer_defs = models_json_schema(
        [(m, "serialization") for m in sorted(models, key=lambda m: m.__name__)],
        ref_template=_REF,
    )
    _, body_defs = models_json_schema(
        [(m, "validation") for m in sorted(body_models, key=lambda m: m.__name__)],
        ref_template=_REF,
    )
    schemas = {**answer_defs.get("$defs", {}), **body_defs.get("$defs", {})}
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "Landdesk API",
            "version": "1",
            "description": "Desk booking and door access for rural coworking "
            "networks. Times are UTC ISO 8601 on output; inputs need an offset. "
            'Errors are {"error": <code>, "message": <text>}; unknown fields in '
            "a request body are refused.",
        },
        "servers": [{"url": PREFIX}],
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {
                    "type": "apiKey",
                    "in": "cookie",
                    "name": "session",
                    "description": "The browser's login; every call other "
                    "than GET needs the header X-CSRF-Token with the token "
                    'of our pages (<meta name="csrf-token">), else 403',
                },
            },
            "schemas": dict(sorted(schemas.items())),
        },
        "paths": paths,
    }
    app.extensions["landdesk_openapi"] = document
    return document
