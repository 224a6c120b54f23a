"""The OpenAPI 3 description of /api/v1 (served at /api/v1/openapi.json).

Kept next to the views; tests check that every API route is described here.
"""

from __future__ import annotations

from functools import cache

DAY_INTERVALS = {
    "type": "array",
    "items": {
        "type": "array",
        "items": {"type": "string", "pattern": "^([01][0-9]|2[0-4]):[0-5][0-9]$"},
        "minItems": 2,
        "maxItems": 2,
    },
}

SCHEMAS = {
    "Error": {
        "type": "object",
        "required": ["error", "message"],
        "properties": {
            "error": {
                "type": "string",
                "description": "machine-readable code, e.g. conflict",
            },
            "message": {
                "type": "string",
                "description": "for people, in the caller's language",
            },
            "field": {
                "type": "string",
                "description": "the input field at fault, when there is one",
            },
        },
    },
    "Token": {
        "type": "object",
        "required": ["token"],
        "properties": {
            "token": {"type": "string"},
            "token_type": {"type": "string", "enum": ["Bearer"]},
        },
    },
    "Credentials": {
        "type": "object",
        "required": ["email", "password"],
        "properties": {
            "email": {"type": "string", "format": "email"},
            "password": {"type": "string"},
        },
    },
    "Me": {
        "type": "object",
        "required": ["id", "email", "name", "roles"],
        "properties": {
            "id": {"type": "integer"},
            "email": {"type": "string"},
            "name": {"type": "string"},
            "roles": {
                "type": "array",
                "items": {"type": "string", "enum": ["member", "operator", "admin"]},
            },
            "locale": {"type": "string", "nullable": True},
            "calendar_url": {
                "type": "string",
                "format": "uri",
                "description": "secret iCalendar feed of your bookings; "
                "POST /me/calendar/revoke replaces it",
            },
        },
    },
    "OpeningHours": {
        "type": "object",
        "description": "Intervals of local time per weekday; "
        "24:00 ends a day at midnight; "
        "an empty or missing day is closed.",
        "properties": {
            day: DAY_INTERVALS
            for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
        },
        "additionalProperties": False,
    },
    "LocationInput": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "maxLength": 120},
            "slug": {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$"},
            "village": {"type": "string"},
            "address": {"type": "string"},
            "lat": {"type": "number", "minimum": -90, "maximum": 90},
            "lon": {"type": "number", "minimum": -180, "maximum": 180},
            "timezone": {"type": "string", "default": "Europe/Berlin"},
            "operator_model": {
                "type": "string",
                "enum": ["classic", "commuter_hub", "village_centre", "retreat"],
            },
            "description": {"type": "string"},
            "opening_hours": {"$ref": "#/components/schemas/OpeningHours"},
            "horizon_days": {"type": "integer", "minimum": 1, "default": 30},
            "cancel_cutoff_hours": {"type": "integer", "minimum": 0, "default": 0},
            "midday": {
                "type": "string",
                "default": "13:00",
                "description": "where morning ends",
            },
            "is_active": {"type": "boolean"},
        },
        "additionalProperties": False,
    },
    "Location": {
        "allOf": [
            {"$ref": "#/components/schemas/LocationInput"},
            {
                "type": "object",
                "required": ["id", "slug", "name", "address", "lat", "lon", "timezone"],
                "properties": {
                    "id": {"type": "integer"},
                    "free_desks_today": {
                        "type": "integer",
                        "nullable": True,
                        "description": "desk and flex seats free for the rest of "
                        "today; "
                        "null when closed",
                    },
                },
            },
        ]
    },
    "ResourceInput": {
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "kind": {"type": "string", "enum": ["desk", "room", "booth", "flex"]},
            "capacity": {
                "type": "integer",
                "minimum": 1,
                "description": "seats of a flex area, people of a room",
            },
            "tags": {"type": "array", "items": {"type": "string"}},
            "description": {"type": "string"},
            "position": {"type": "integer"},
            "is_active": {"type": "boolean"},
        },
        "additionalProperties": False,
    },
    "Resource": {
        "allOf": [
            {"$ref": "#/components/schemas/ResourceInput"},
            {
                "type": "object",
                "required": ["id", "location_id", "name", "kind", "capacity"],
                "properties": {
                    "id": {"type": "integer"},
                    "location_id": {"type": "integer"},
                },
            },
        ]
    },
    "ClosureInput": {
        "type": "object",
        "required": ["starts_on"],
        "properties": {
            "starts_on": {"type": "string", "format": "date"},
            "ends_on": {
                "type": "string",
                "format": "date",
                "description": "inclusive; defaults to starts_on",
            },
            "resource_id": {
                "type": "integer",
                "nullable": True,
                "description": "omit to close the whole location",
            },
            "reason": {"type": "string"},
        },
    },
    "Closure": {
        "allOf": [
            {"$ref": "#/components/schemas/ClosureInput"},
            {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "location_id": {"type": "integer"},
                },
            },
        ]
    },
    "Period": {
        "type": "object",
        "properties": {
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"},
        },
    },
    "Availability": {
        "type": "object",
        "properties": {
            "location_id": {"type": "integer"},
            "date": {"type": "string", "format": "date"},
            "timezone": {"type": "string"},
            "open": {"type": "boolean"},
            "closed_reason": {"type": "string", "nullable": True},
            "half_days": {"type": "boolean"},
            "opening": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Period"},
            },
            "resources": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "integer"},
                        "name": {"type": "string"},
                        "kind": {"type": "string"},
                        "capacity": {"type": "integer"},
                        "tags": {"type": "array", "items": {"type": "string"}},
                        "closed": {"type": "boolean"},
                        "seats": {"type": "integer"},
                        "free_seats": {
                            "type": "object",
                            "nullable": True,
                            "description": "desks and flex areas: free seats for full, "
                            "am, pm (parts still ahead)",
                            "additionalProperties": {"type": "integer"},
                        },
                        "fixed_desk": {
                            "type": "boolean",
                            "description": "a member's fixed desk: taken every "
                            "open day, bookable only by that member",
                        },
                        "free": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Period"},
                        },
                        "booked": {
                            "type": "array",
                            "items": {
                                "allOf": [
                                    {"$ref": "#/components/schemas/Period"},
                                    {
                                        "type": "object",
                                        "properties": {"seats": {"type": "integer"}},
                                    },
                                ]
                            },
                        },
                    },
                },
            },
        },
    },
    "BookingInput": {
        "type": "object",
        "required": ["resource_id"],
        "description": "A desk or flex seat for a date (full day, or part am/pm), "
        "or a room or booth from start to end (ISO 8601 with offset, "
        "30-minute steps). Operators may "
        "book for a member of their location with user_id or member_email.",
        "properties": {
            "resource_id": {"type": "integer"},
            "date": {"type": "string", "format": "date"},
            "part": {"type": "string", "enum": ["am", "pm"]},
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"},
            "user_id": {"type": "integer"},
            "member_email": {"type": "string", "format": "email"},
        },
    },
    "Booking": {
        "type": "object",
        "required": ["id", "resource_id", "start", "end", "status"],
        "properties": {
            "id": {"type": "integer"},
            "resource_id": {"type": "integer"},
            "location_id": {"type": "integer"},
            "user_id": {"type": "integer"},
            "date": {"type": "string", "format": "date"},
            "part": {"type": "string", "enum": ["full", "am", "pm", "hours"]},
            "seat": {"type": "integer"},
            "start": {"type": "string", "format": "date-time"},
            "end": {"type": "string", "format": "date-time"},
            "status": {
                "type": "string",
                "enum": ["pending_payment", "confirmed", "cancelled", "expired"],
            },
            "created_at": {"type": "string", "format": "date-time"},
            "cancelled_at": {"type": "string", "format": "date-time", "nullable": True},
            "payment": {
                "allOf": [{"$ref": "#/components/schemas/Payment"}],
                "description": "only in the answer to POST /bookings when the "
                "booking is held for payment (status pending_payment)",
            },
        },
    },
    "Payment": {
        "type": "object",
        "description": "A held booking's price; it is confirmed only when "
        "Stripe reports the payment, and released when the hold expires.",
        "required": ["order_id", "amount_cents", "currency", "checkout"],
        "properties": {
            "order_id": {"type": "integer"},
            "amount_cents": {"type": "integer", "description": "gross, VAT included"},
            "vat_cents": {"type": "integer"},
            "currency": {"type": "string", "example": "EUR"},
            "hold_expires_at": {"type": "string", "format": "date-time"},
            "checkout": {
                "type": "string",
                "description": "POST here for the payment_url",
            },
            "payment_url": {
                "type": "string",
                "format": "uri",
                "description": "Stripe Checkout; send the person there",
            },
        },
    },
    "DayPassRequest": {
        "type": "object",
        "required": ["plan_id", "date"],
        "properties": {
            "plan_id": {"type": "integer", "description": "a plan of kind day_pass"},
            "date": {"type": "string", "format": "date"},
            "part": {
                "type": "string",
                "enum": ["am", "pm"],
                "description": "half-day passes only: the morning or the afternoon",
            },
        },
    },
    "DayPass": {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "plan_id": {"type": "integer"},
            "name": {"type": "string"},
            "date": {"type": "string", "format": "date"},
            "part": {"type": "string", "enum": ["full", "am", "pm"]},
            "location_id": {
                "type": "integer",
                "nullable": True,
                "description": "null: valid in every location of the network",
            },
            "status": {
                "type": "string",
                "enum": ["pending", "active", "cancelled", "expired"],
                "description": "active once Stripe's webhook reports the payment",
            },
            "payment": {
                "type": "object",
                "nullable": True,
                "properties": {
                    "order_id": {"type": "integer"},
                    "status": {
                        "type": "string",
                        "enum": ["pending", "paid", "cancelled", "refunded"],
                    },
                    "amount_cents": {"type": "integer"},
                    "vat_cents": {"type": "integer"},
                    "currency": {"type": "string"},
                    "checkout": {
                        "type": "string",
                        "description": "POST here for the payment_url",
                    },
                },
            },
        },
    },
    "Credit": {
        "type": "object",
        "properties": {
            "pass_id": {"type": "integer"},
            "name": {"type": "string"},
            "kind": {
                "type": "string",
                "enum": ["pack", "membership", "company", "day_pass"],
            },
            "remaining_days": {
                "type": "integer",
                "nullable": True,
                "description": "this month (packs: in total); null: unlimited",
            },
            "room_minutes_left": {"type": "integer", "nullable": True},
            "standing": {
                "type": "string",
                "enum": ["active", "past_due_in_grace", "suspended", "none"],
            },
            "valid_until": {"type": "string", "format": "date", "nullable": True},
            "company": {"type": "string", "nullable": True},
            "cancel_at_period_end": {"type": "boolean"},
        },
    },
}


def _error(description: str) -> dict:
    return {
        "description": description,
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/Error"}}
        },
    }


def _json(schema_ref: str, description: str = "OK", many: bool = False) -> dict:
    schema = {"$ref": f"#/components/schemas/{schema_ref}"}
    if many:
        schema = {"type": "array", "items": schema}
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }


def _body(schema_ref: str) -> dict:
    return {
        "required": True,
        "content": {
            "application/json": {
                "schema": {"$ref": f"#/components/schemas/{schema_ref}"}
            }
        },
    }


def _id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": {"type": "integer"}}


PUBLIC: list = []  # security override for endpoints that need no login
E400, E401, E403, E404, E409 = (
    _error("Invalid input"),
    _error("Not logged in"),
    _error("Not allowed"),
    _error("Not found"),
    _error("Conflict"),
)


@cache
def build_openapi() -> dict:
    paths = {
        "/auth/token": {
            "post": {
                "summary": "Log in and get a bearer token",
                "security": PUBLIC,
                "requestBody": _body("Credentials"),
                "responses": {
                    "200": _json("Token"),
                    "401": _error("Wrong e-mail or password"),
                    "429": _error(
                        "Too many failed attempts for this account or address"
                    ),
                },
            }
        },
        "/auth/logout": {
            "post": {
                "summary": "End the login used by this request; "
                "the token stops working",
                "responses": {"204": {"description": "Logged out"}, "401": E401},
            }
        },
        "/me": {
            "get": {
                "summary": "The caller",
                "responses": {"200": _json("Me"), "401": E401},
            }
        },
        "/locations": {
            "get": {
                "summary": "All active locations of the network",
                "security": PUBLIC,
                "responses": {"200": _json("Location", many=True)},
            },
            "post": {
                "summary": "Create a location (operators; the creator runs it)",
                "requestBody": _body("LocationInput"),
                "responses": {
                    "201": _json("Location", "Created"),
                    "400": E400,
                    "401": E401,
                    "403": E403,
                },
            },
        },
        "/locations/{location_id}": {
            "parameters": [_id("location_id")],
            "get": {
                "summary": "One location",
                "security": PUBLIC,
                "responses": {"200": _json("Location"), "404": E404},
            },
            "patch": {
                "summary": "Change a location you run",
                "requestBody": _body("LocationInput"),
                "responses": {
                    "200": _json("Location"),
                    "400": E400,
                    "401": E401,
                    "403": E403,
                    "404": E404,
                },
            },
        },
        "/locations/{location_id}/operators": {
            "parameters": [_id("location_id")],
            "put": {
                "summary": "Set who runs a location (network admins only)",
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["emails"],
                                "properties": {
                                    "emails": {
                                        "type": "array",
                                        "items": {"type": "string", "format": "email"},
                                    }
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": {"description": "The operators now running the location"},
                    "400": E400,
                    "401": E401,
                    "403": E403,
                    "404": E404,
                },
            },
        },
        "/locations/{location_id}/resources": {
            "parameters": [_id("location_id")],
            "get": {
                "summary": "Desks, rooms, booths and flex areas of a location",
                "security": PUBLIC,
                "responses": {"200": _json("Resource", many=True), "404": E404},
            },
            "post": {
                "summary": "Add a resource to a location you run",
                "requestBody": _body("ResourceInput"),
                "responses": {
                    "201": _json("Resource", "Created"),
                    "400": E400,
                    "401": E401,
                    "403": E403,
                    "404": E404,
                },
            },
        },
        "/resources/{resource_id}": {
            "parameters": [_id("resource_id")],
            "patch": {
                "summary": "Change a resource (its kind is fixed)",
                "requestBody": _body("ResourceInput"),
                "responses": {
                    "200": _json("Resource"),
                    "400": E400,
                    "401": E401,
                    "403": E403,
                    "404": E404,
                },
            },
        },
        "/locations/{location_id}/closures": {
            "parameters": [_id("location_id")],
            "get": {
                "summary": "Current and future closures",
                "security": PUBLIC,
                "responses": {"200": _json("Closure", many=True), "404": E404},
            },
            "post": {
                "summary": "Close the location or one resource for whole days",
                "requestBody": _body("ClosureInput"),
                "responses": {
                    "201": _json("Closure", "Created"),
                    "400": E400,
                    "401": E401,
                    "403": E403,
                    "404": E404,
                },
            },
        },
        "/closures/{closure_id}": {
            "parameters": [_id("closure_id")],
            "delete": {
                "summary": "Remove a closure",
                "responses": {
                    "204": {"description": "Removed"},
                    "401": E401,
                    "403": E403,
                    "404": E404,
                },
            },
        },
        "/locations/{location_id}/availability": {
            "parameters": [
                _id("location_id"),
                {
                    "name": "date",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string", "format": "date"},
                },
            ],
            "get": {
                "summary": "Every resource with its free and booked "
                "periods on a local date",
                "security": PUBLIC,
                "responses": {"200": _json("Availability"), "400": E400, "404": E404},
            },
        },
        "/locations/{location_id}/bookings": {
            "parameters": [
                _id("location_id"),
                {
                    "name": "date",
                    "in": "query",
                    "schema": {"type": "string", "format": "date"},
                },
            ],
            "get": {
                "summary": "All bookings of a day at a location you run, "
                "with the members",
                "responses": {
                    "200": _json("Booking", many=True),
                    "401": E401,
                    "403": E403,
                    "404": E404,
                },
            },
        },
        "/bookings": {
            "get": {
                "summary": "The caller's bookings",
                "parameters": [
                    {
                        "name": "scope",
                        "in": "query",
                        "schema": {
                            "type": "string",
                            "enum": ["all", "upcoming", "past"],
                        },
                    }
                ],
                "responses": {"200": _json("Booking", many=True), "401": E401},
            },
            "post": {
                "summary": "Book a desk, seat or room",
                "requestBody": _body("BookingInput"),
                "responses": {
                    "201": _json(
                        "Booking",
                        "Booked: confirmed (free, or paid from a pass) or "
                        "pending_payment with a payment object",
                    ),
                    "400": E400,
                    "401": E401,
                    "402": _error(
                        "Membership suspended: a payment is overdue "
                        "(membership_suspended)"
                    ),
                    "403": E403,
                    "404": E404,
                    "409": _error(
                        "Taken, or the person already has a booking at that time"
                    ),
                },
            },
        },
        "/bookings/{booking_id}": {
            "parameters": [_id("booking_id")],
            "get": {
                "summary": "One of the caller's bookings",
                "responses": {"200": _json("Booking"), "401": E401, "404": E404},
            },
            "delete": {
                "summary": "Cancel a booking (yours, or any in a location you run)",
                "responses": {
                    "200": _json("Booking", "Cancelled"),
                    "401": E401,
                    "403": _error("The cancellation deadline has passed"),
                    "404": E404,
                    "409": _error("Already cancelled or over"),
                },
            },
        },
        "/openapi.json": {
            "get": {
                "summary": "This document",
                "security": PUBLIC,
                "responses": {"200": {"description": "OpenAPI 3 document"}},
            }
        },
    }
    for path, item in _more_paths().items():
        paths.setdefault(path, {}).update(item)
    for path, item in _billing_paths().items():
        paths.setdefault(path, {}).update(item)
    for path, item in _door_paths().items():
        paths.setdefault(path, {}).update(item)
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Landdesk API",
            "version": "1",
            "description": "Desk booking and door access for rural coworking networks. "
            "Times are UTC ISO 8601 on output; inputs need an offset. Errors are "
            '{"error": <code>, "message": <text>}.',
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}, {"session": []}],
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": "session"},
            },
            "schemas": SCHEMAS,
        },
        "paths": paths,
    }


def _obj(description: str = "OK") -> dict:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"type": "object"}}},
    }


def _more_paths() -> dict:
    """Calendars, check-in, waitlist, notifications, GeoJSON, personal data."""
    date_param = {
        "name": "date",
        "in": "query",
        "required": True,
        "schema": {"type": "string", "format": "date"},
    }
    imports = {
        "parameters": [_id("resource_id")],
        "get": {
            "summary": "External calendars blocking a room you run",
            "responses": {"200": _obj(), "401": E401, "403": E403, "404": E404},
        },
        "post": {
            "summary": "Block a room from an external calendar: "
            '{"name", "url"} (an .ics address) or {"name", "ics"} (file text); '
            "recurring events are expanded",
            "requestBody": {
                "required": True,
                "content": {"application/json": {"schema": {"type": "object"}}},
            },
            "responses": {
                "201": _obj("Imported, with counts and conflicting bookings"),
                "400": E400,
                "401": E401,
                "403": E403,
                "404": E404,
            },
        },
    }
    return {
        "/me/calendar/revoke": {
            "post": {
                "summary": "Replace your calendar feed address (the old one stops "
                "working)",
                "responses": {"200": _obj('{"calendar_url": ...}'), "401": E401},
            }
        },
        "/me/notifications": {
            "get": {
                "summary": "Which e-mails you get",
                "responses": {"200": _obj(), "401": E401},
            },
            "put": {
                "summary": 'Choose your e-mails: {"<kind>": true|false, ...}',
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": {"200": _obj(), "400": E400, "401": E401},
            },
        },
        "/me/export": {
            "get": {
                "summary": "Everything the service holds about you (GDPR art. 15/20)",
                "responses": {"200": _obj(), "401": E401},
            }
        },
        "/me": {
            "delete": {
                "summary": 'Delete your account ({"password": ...}): bookings are '
                "anonymised, invoices kept",
                "requestBody": {
                    "required": True,
                    "content": {"application/json": {"schema": {"type": "object"}}},
                },
                "responses": {
                    "204": {"description": "Deleted"},
                    "400": E400,
                    "401": E401,
                    "403": _error("Wrong password"),
                },
            },
        },
        "/resources/{resource_id}/calendar-imports": imports,
        "/resources/{resource_id}/calendar-imports/refresh": {
            "parameters": [_id("resource_id")],
            "post": {
                "summary": "Import the room's calendars again (URLs are fetched; "
                '{"import_id", "ics"} replaces an uploaded file); '
                "never duplicates blocks",
                "responses": {"200": _obj(), "401": E401, "403": E403, "404": E404},
            },
        },
        "/locations.geojson": {
            "get": {
                "summary": "The network's locations as a GeoJSON FeatureCollection "
                "(Point [lon, lat]; name, address, opening hours, operator model, "
                "free desks today)",
                "security": PUBLIC,
                "responses": {
                    "200": {
                        "description": "GeoJSON",
                        "content": {
                            "application/geo+json": {"schema": {"type": "object"}}
                        },
                    }
                },
            }
        },
        "/bookings/{booking_id}/check-in": {
            "parameters": [_id("booking_id")],
            "post": {
                "summary": "Check in to your booking (from 30 minutes before)",
                "responses": {
                    "200": _json("Booking"),
                    "401": E401,
                    "404": E404,
                    "409": _error("Cancelled, or not the time to check in"),
                },
            },
        },
        "/locations/{location_id}/waitlist": {
            "parameters": [_id("location_id"), date_param],
            "post": {
                "summary": "Wait for a desk on a full day; you get an e-mail when "
                "one frees up (first to book gets it)",
                "responses": {"201": _obj(), "400": E400, "401": E401, "404": E404},
            },
            "delete": {
                "summary": "Leave the waitlist of a day",
                "responses": {"204": {"description": "Left"}, "401": E401},
            },
        },
        "/locations/{location_id}/members": {
            "parameters": [
                _id("location_id"),
                {
                    "name": "email",
                    "in": "query",
                    "required": True,
                    "schema": {"type": "string"},
                },
            ],
            "get": {
                "summary": "A member's data as far as it concerns a location you "
                "run: bookings, door events and orders there (nothing from other "
                "locations)",
                "responses": {"200": _obj(), "401": E401, "403": E403, "404": E404},
            },
        },
        "/locations/{location_id}/insight": {
            "parameters": [_id("location_id")],
            "get": {
                "summary": "Dashboard figures of a location you run, in its time "
                "zone: occupancy today, last 7 and 30 days (0..1), by weekday "
                "(mon..sun, 8 weeks), bookings per local hour and week (8 weeks or "
                "since the location opened), no-show rate, active and new members",
                "responses": {
                    "200": _obj(
                        '{"location_id", "today", "seats", "occupancy_today", '
                        '"week": [{"date", "occupancy"}], "month": [...], '
                        '"by_weekday": [{"weekday", "occupancy"}], '
                        '"by_hour": [{"hour", "bookings_per_week"}], '
                        '"no_show_rate", "checked_bookings", "active_members", '
                        '"new_members"}'
                    ),
                    "401": E401,
                    "403": E403,
                    "404": E404,
                },
            },
        },
    }


def _door_paths() -> dict:
    """Door access (booking/access, docs/access.md)."""
    door = {
        "type": "object",
        "required": ["id", "location_id", "name", "kind"],
        "properties": {
            "id": {"type": "integer", "description": "also the door's MQTT id"},
            "location_id": {"type": "integer"},
            "name": {"type": "string"},
            "kind": {
                "type": "string",
                "enum": ["landdesk", "shelly", "tasmota", "nuki"],
            },
            "online": {"type": "boolean", "nullable": True},
            "is_open": {"type": "boolean", "nullable": True},
            "can_open": {"type": "boolean", "description": "the caller, now"},
            "device_id": {"type": "string", "nullable": True},
            "resource_ids": {"type": "array", "items": {"type": "integer"}},
            "open_s": {"type": "integer", "minimum": 1, "maximum": 60},
            "is_active": {"type": "boolean"},
            "online_since": {"type": "string", "format": "date-time", "nullable": True},
            "last_seen_at": {"type": "string", "format": "date-time", "nullable": True},
            "battery": {"type": "integer", "nullable": True},
            "secret": {
                "type": "string",
                "description": "64 hex characters; only in the answer that "
                "creates a landdesk door or rotates its secret",
            },
        },
    }
    door_input = {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "kind": door["properties"]["kind"],
                        "device_id": {
                            "type": "string",
                            "description": "vendor devices: Shelly topic prefix, "
                            "Tasmota topic or Nuki id",
                        },
                        "resource_ids": {
                            "type": "array",
                            "items": {"type": "integer"},
                            "description": "empty: the whole location",
                        },
                        "open_s": {"type": "integer"},
                        "is_active": {"type": "boolean"},
                    },
                }
            }
        },
    }

    def doors(description: str, many: bool = False) -> dict:
        schema = {"type": "array", "items": door} if many else door
        return {
            "description": description,
            "content": {"application/json": {"schema": schema}},
        }

    door_id = _id("door_id")
    return {
        "/locations/{location_id}/doors": {
            "parameters": [_id("location_id")],
            "get": {
                "summary": "A location's doors; operators see device details",
                "responses": {"200": doors("OK", many=True), "401": E401, "404": E404},
            },
            "post": {
                "summary": "Add a door (operators); a landdesk door's secret is "
                "in this answer only",
                "requestBody": door_input,
                "responses": {
                    "201": doors("Created"),
                    "400": E400,
                    "401": E401,
                    "403": E403,
                    "404": E404,
                },
            },
        },
        "/doors/{door_id}": {
            "parameters": [door_id],
            "get": {
                "summary": "A door with its reported state (operators)",
                "responses": {
                    "200": doors("OK"),
                    "401": E401,
                    "403": E403,
                    "404": E404,
                },
            },
            "patch": {
                "summary": "Rename, re-assign resources, switch off (operators)",
                "requestBody": door_input,
                "responses": {
                    "200": doors("OK"),
                    "400": E400,
                    "401": E401,
                    "403": E403,
                    "404": E404,
                },
            },
        },
        "/doors/{door_id}/unlock": {
            "parameters": [door_id],
            "post": {
                "summary": "Open the door: a live booking (from the margin before "
                "its start), a 24/7 membership or an operator. "
                '{"remote": true}: an operator opens from afar. '
                "Rate-limited per user",
                "responses": {
                    "200": _obj('{"status": "opened"} once the door acknowledged'),
                    "401": E401,
                    "403": _error('Not allowed; "reason" says why'),
                    "404": E404,
                    "429": _error("Too many unlock attempts"),
                    "502": _error('The door refused; "reason" is its reason'),
                    "503": _error("The broker cannot be reached"),
                    "504": _error("The door did not answer in time"),
                },
            },
        },
        "/doors/{door_id}/secret": {
            "parameters": [door_id],
            "post": {
                "summary": "Rotate a landdesk door's secret; the old one stops "
                "working at once",
                "responses": {
                    "200": _obj('{"id", "secret"}'),
                    "400": E400,
                    "401": E401,
                    "403": E403,
                    "404": E404,
                },
            },
        },
        "/access-log": {
            "get": {
                "summary": "The audit log of the locations you run, newest first; "
                "format=csv exports it",
                "parameters": [
                    {"name": name, "in": "query", "schema": {"type": "string"}}
                    for name in (
                        "location_id",
                        "door_id",
                        "channel",
                        "result",
                        "user",
                        "since",
                        "until",
                        "format",
                    )
                ],
                "responses": {"200": _obj(), "400": E400, "401": E401, "403": E403},
            }
        },
        "/bookings/{booking_id}/doors": {
            "parameters": [_id("booking_id")],
            "get": {
                "summary": "The doors a booking opens, with its offline PIN for "
                "each landdesk door (pin, pin_valid_from, pin_valid_until)",
                "responses": {"200": doors("OK", many=True), "401": E401, "404": E404},
            },
        },
    }


def _billing_paths() -> dict:
    """Paying for a held booking; the caller's passes (see docs/billing.md)."""
    return {
        "/bookings/{booking_id}/checkout": {
            "parameters": [_id("booking_id")],
            "post": {
                "summary": "Start paying a booking held for payment: answers the "
                "Stripe Checkout address (payment_url). Repeating it gives the "
                "same address; the booking is confirmed by Stripe's webhook",
                "responses": {
                    "200": _json("Payment"),
                    "401": E401,
                    "404": E404,
                    "409": _error("Not waiting for payment, or the hold has ended"),
                    "503": _error(
                        "Stripe cannot be reached: try again, the hold stays "
                        "(payment_unavailable)"
                    ),
                },
            },
        },
        "/day-passes": {
            "get": {
                "summary": "Your day passes, the latest date first",
                "responses": {"200": _json("DayPass", many=True), "401": E401},
            },
            "post": {
                "summary": "Buy a day pass for a date (whole or half day, at one "
                "location or network-wide): created pending; pay through "
                "/day-passes/{pass_id}/checkout, the webhook activates it",
                "requestBody": _body("DayPassRequest"),
                "responses": {
                    "201": _json("DayPass", "Created, waiting for payment"),
                    "400": _error(
                        "Bad date (past, beyond the horizon, closed) or part"
                    ),
                    "401": E401,
                    "404": _error("No such day-pass plan on sale"),
                },
            },
        },
        "/day-passes/{pass_id}": {
            "parameters": [_id("pass_id")],
            "get": {
                "summary": "One of your day passes",
                "responses": {"200": _json("DayPass"), "401": E401, "404": E404},
            },
        },
        "/day-passes/{pass_id}/cancel": {
            "parameters": [_id("pass_id")],
            "post": {
                "summary": "Cancel a day pass until the day before: a paid one is "
                "refunded in full",
                "responses": {
                    "200": _json("DayPass"),
                    "401": E401,
                    "404": E404,
                    "409": _error(
                        "Its day has begun, a booking uses it, or it is no longer valid"
                    ),
                },
            },
        },
        "/day-passes/{pass_id}/checkout": {
            "parameters": [_id("pass_id")],
            "post": {
                "summary": "The Stripe Checkout address for an unpaid day pass "
                "(repeating it gives the same address)",
                "responses": {
                    "200": _json("Payment"),
                    "401": E401,
                    "404": E404,
                    "409": _error("Not waiting for payment"),
                    "503": _error("Stripe cannot be reached: try again"),
                },
            },
        },
        "/me/credits": {
            "get": {
                "summary": "Days (and meeting-room minutes) left on your passes, "
                "memberships and company budget",
                "parameters": [
                    {
                        "name": "location_id",
                        "in": "query",
                        "schema": {"type": "integer"},
                        "description": "only passes valid at this location",
                    },
                    {
                        "name": "date",
                        "in": "query",
                        "schema": {"type": "string", "format": "date"},
                        "description": "the month to count (default today)",
                    },
                ],
                "responses": {"200": _json("Credit", many=True), "401": E401},
            }
        },
    }
