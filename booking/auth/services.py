"""Accounts, logins (server-side sessions and API tokens), password resets."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app, render_template
from flask_babel import force_locale, get_locale
from flask_babel import lazy_gettext as _l
from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..db import persistent, unit_of_work, utcnow
from ..errors import Forbidden, InvalidInput
from ..outbox import queue_mail
from ..spaces.services import get_network
from .models import Role, SessionKind, User, UserSession

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SESSION_LIFETIME = {SessionKind.WEB: timedelta(days=30)}
_hashers: dict[tuple[int, int], tuple[PasswordHasher, str]] = {}


def _hasher_and_dummy() -> tuple[PasswordHasher, str]:
    """Argon2id with the configured cost (tests lower it to stay fast).

    The dummy hash is verified when an e-mail is unknown, so that both cases
    take the same time.
    """
    config = current_app.config
    key = (config.get("ARGON2_TIME_COST", 3), config.get("ARGON2_MEMORY_COST", 65536))
    if key not in _hashers:
        hasher = PasswordHasher(time_cost=key[0], memory_cost=key[1])
        _hashers[key] = (hasher, hasher.hash("landdesk-timing-equaliser"))
    return _hashers[key]


def _hasher() -> PasswordHasher:
    return _hasher_and_dummy()[0]


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def normalise_email(email: str) -> str:
    email = (email or "").strip().lower()
    if not EMAIL_RE.match(email) or len(email) > 254:
        raise InvalidInput(_l("Please enter a valid e-mail address."), field="email")
    return email


def _check_password_strength(password: str) -> None:
    minimum = current_app.config["MIN_PASSWORD_LENGTH"]
    if not isinstance(password, str) or len(password) < minimum:
        raise InvalidInput(
            _l("The password needs at least %(n)d characters.", n=minimum),
            field="password",
        )
    if len(password) > 1024:
        raise InvalidInput(_l("The password is too long."), field="password")


def create_user(
    db: Session,
    *,
    email: str,
    password: str,
    name: str = "",
    role: Role = Role.MEMBER,
    locale: str | None = None,
) -> User:
    """Create an account. Raises InvalidInput (bad data or e-mail taken)."""
    email = normalise_email(email)
    _check_password_strength(password)
    name = (name or "").strip() or email.split("@")[0]
    if len(name) > 120:
        raise InvalidInput(_l("The name is too long."), field="name")
    if role not in set(Role):
        raise InvalidInput(_l("Unknown role."), field="role")
    with unit_of_work(db):
        if db.scalar(select(User.id).where(User.email == email)):
            raise InvalidInput(
                _l("An account with this e-mail address exists already."),
                field="email",
            )
        user = User(
            email=email,
            name=name,
            password_hash=hash_password(password),
            role=Role(role),
            locale=locale,
        )
        db.add(user)
        try:
            db.flush()
        except IntegrityError:
            raise InvalidInput(
                _l("An account with this e-mail address exists already."),
                field="email",
            ) from None
    return user


def authenticate(db: Session, email: str, password: str) -> User | None:
    """The active user with these credentials, or None."""
    try:
        email = normalise_email(email)
    except InvalidInput:
        return None
    user = db.scalar(select(User).where(User.email == email))
    if user is None or not user.is_active:
        _safe_verify(_hasher_and_dummy()[1], password or "")
        return None
    if not _safe_verify(user.password_hash, password or ""):
        return None
    if _hasher().check_needs_rehash(user.password_hash):
        with unit_of_work(db):
            user.password_hash = hash_password(password)
    return user


def _safe_verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def start_session(
    db: Session, user: User, kind: SessionKind, user_agent: str | None = None
) -> str:
    """Create a login and return its secret (stored only as a hash)."""
    raw = secrets.token_urlsafe(32)
    if kind == SessionKind.API:
        lifetime = timedelta(days=current_app.config["API_TOKEN_MAX_AGE_DAYS"])
    else:
        lifetime = SESSION_LIFETIME[SessionKind.WEB]
    with unit_of_work(db):
        db.add(
            UserSession(
                user_id=user.id,
                kind=kind,
                token_hash=_token_hash(raw),
                expires_at=utcnow() + lifetime,
                user_agent=(user_agent or "")[:200] or None,
            )
        )
    return raw


# Runs on every authenticated request: built once, so SQLAlchemy's compiled
# cache and psycopg's prepared statements serve it, and read with Core (the
# user object made from the row, db.persistent; see bench/README.md).
_users = User.__table__
_sessions = UserSession.__table__
_LOGIN = (
    select(*_users.c, _sessions.c.expires_at, _sessions.c.revoked_at)
    .join(_sessions, _sessions.c.user_id == _users.c.id)
    .where(
        _sessions.c.token_hash == bindparam("token_hash"),
        _sessions.c.kind == bindparam("kind"),
    )
)
_USER_COLUMNS = [column.key for column in _users.c]


def user_for_secret(db: Session, raw: str, kind: SessionKind) -> User | None:
    """The user of a live (not revoked, not expired) login, or None."""
    if not raw or len(raw) > 200:
        return None
    row = db.connection().execute(_LOGIN, login_params(raw, kind)).first()
    if row is None:
        return None
    *user, expires_at, revoked_at = row
    values = dict(zip(_USER_COLUMNS, user, strict=True))
    if not login_is_live(values["is_active"], expires_at, revoked_at):
        return None
    return persistent(db, User(**values))


def login_params(raw: str, kind: SessionKind) -> dict[str, str]:
    return {"token_hash": _token_hash(raw), "kind": str(kind)}


def login_is_live(is_active: bool, expires_at: datetime, revoked_at) -> bool:
    """Not revoked, not expired, of an active account."""
    return revoked_at is None and expires_at > utcnow() and is_active


def end_session(db: Session, raw: str) -> None:
    with unit_of_work(db):
        db.execute(
            update(UserSession)
            .where(
                UserSession.token_hash == _token_hash(raw),
                UserSession.revoked_at.is_(None),
            )
            .values(revoked_at=utcnow())
        )


def end_all_sessions(db: Session, user: User) -> None:
    with unit_of_work(db):
        db.execute(
            update(UserSession)
            .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )


# An invitation's set-password link lives longer than a reset link: the
# invited person may read the mail days later. Both die once used.
INVITATION_MAX_AGE_S = 14 * 24 * 3600
_SALTS = {"reset": "landdesk-password-reset", "invitation": "landdesk-account-setup"}


def _reset_serializer(purpose: str = "reset") -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(
        current_app.config["SECRET_KEY"], salt=_SALTS[purpose]
    )


def _max_age(purpose: str) -> int:
    if purpose == "invitation":
        return INVITATION_MAX_AGE_S
    return current_app.config["PASSWORD_RESET_MAX_AGE_S"]


def setup_token(user: User) -> str:
    """The token of an invited person's set-password link (single use)."""
    return _reset_serializer("invitation").dumps(
        {"u": user.id, "p": _password_stamp(user)}
    )


def create_invited_user(
    db: Session,
    *,
    email: str,
    name: str,
    role: Role,
    invited_by: User,
    setup_url: Callable[[str], str],
    network_name: str,
    reason: str = "",
) -> User:
    """An account for someone invited by e-mail: no usable password until they
    set one from the mailed link (``setup_url(token)``). ``reason`` is a line
    of the mail saying what they were invited to. Raises InvalidInput."""
    # In the inviting person's language (the request's), which also becomes
    # the new account's language for later mails.
    language = str(get_locale() or current_app.config["BABEL_DEFAULT_LOCALE"])
    with unit_of_work(db):
        user = create_user(
            db,
            email=email,
            password=secrets.token_urlsafe(32),
            name=name,
            role=role,
            locale=language if language in current_app.config["LANGUAGES"] else None,
        )
        url = setup_url(setup_token(user))
        with force_locale(language):
            from flask_babel import gettext

            subject = gettext(
                "%(name)s invites you to %(network)s",
                name=invited_by.name,
                network=network_name,
            )
            text = render_template(
                "emails/account_invitation.txt",
                user=user,
                inviter=invited_by,
                role=role,
                reason=reason,
                network_name=network_name,
                url=url,
                days=INVITATION_MAX_AGE_S // 86400,
            )
        # Durable and retried, sent after the commit (booking.outbox).
        queue_mail(
            db,
            f"account_invitation:{user.id}:{_token_key(url)}",
            user.email,
            subject,
            text,
            user_id=user.id,
        )
    return user


def _token_key(token: str) -> str:
    # Names a mailed link in its outbox key without storing the link twice.
    return hashlib.sha256(token.encode()).hexdigest()[:32]


def _password_stamp(user: User) -> str:
    # The token dies once the password changed: it can be used only once.
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


def request_password_reset(
    db: Session, email: str, reset_url: Callable[[str], str]
) -> None:
    """Mail a reset link if the account exists; say nothing either way."""
    email = normalise_email(email)
    user = db.scalar(select(User).where(User.email == email, User.is_active))
    if user is None:
        return
    token = _reset_serializer().dumps({"u": user.id, "p": _password_stamp(user)})
    url = reset_url(token)
    locale = user.locale or current_app.config["BABEL_DEFAULT_LOCALE"]
    with force_locale(locale):
        from flask_babel import gettext

        # The network's name, not the software's (issue 17 point 9).
        network = get_network(db).name
        subject = gettext("Reset your password for %(network)s", network=network)
        text = render_template("emails/password_reset.txt", user=user, url=url)
    with unit_of_work(db):
        # Durable and retried, sent after the commit (booking.outbox).
        queue_mail(
            db,
            f"password_reset:{user.id}:{_token_key(token)}",
            user.email,
            subject,
            text,
            user_id=user.id,
        )


def reset_password(
    db: Session, token: str, new_password: str, purpose: str = "reset"
) -> User:
    """Set a new password from a mailed token (a reset or an invitation's
    set-password link); ends every existing login."""
    try:
        data = _reset_serializer(purpose).loads(token, max_age=_max_age(purpose))
    except SignatureExpired:
        raise InvalidInput(
            _l("This link has expired. Please ask for a new one."), field="token"
        ) from None
    except BadSignature:
        raise InvalidInput(_l("This link is not valid."), field="token") from None
    _check_password_strength(new_password)
    with unit_of_work(db):
        user = db.get(User, data.get("u"))
        if user is None or _password_stamp(user) != data.get("p"):
            raise InvalidInput(
                _l("This link has been used already or is not valid."), field="token"
            )
        user.password_hash = hash_password(new_password)
        user.password_changed_at = utcnow()
        db.execute(
            update(UserSession)
            .where(UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    return user


def change_password(
    db: Session, user: User, current: str, new: str, *, keep: str | None = None
) -> None:
    """A logged-in person's new password, after the current one. Every other
    login of theirs ends (one a thief may hold too); ``keep``, the raw secret
    of this login, stays. Raises Forbidden (wrong password), InvalidInput."""
    if authenticate(db, user.email, current) is None:
        raise Forbidden(_l("The current password is wrong."))
    _check_password_strength(new)
    hashed = hash_password(new)  # outside the transaction: argon2 takes a while
    now = utcnow()
    with unit_of_work(db):
        db.execute(
            update(User)
            .where(User.id == user.id)
            .values(password_hash=hashed, password_changed_at=now)
        )
        others = update(UserSession).where(
            UserSession.user_id == user.id, UserSession.revoked_at.is_(None)
        )
        if keep:
            others = others.where(UserSession.token_hash != _token_hash(keep))
        db.execute(others.values(revoked_at=now))


def set_locale(db: Session, user: User, locale: str) -> None:
    if locale not in current_app.config["LANGUAGES"]:
        raise InvalidInput(_l("Unknown language."), field="locale")
    with unit_of_work(db):
        db.merge(user).locale = locale


def find_user(db: Session, email: str) -> User | None:
    try:
        return db.scalar(select(User).where(User.email == normalise_email(email)))
    except InvalidInput:
        return None
