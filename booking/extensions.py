"""Flask extensions, created unbound and initialised in create_app."""

from flask import request
from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# No default limits: limits are declared where they matter (login, unlock).
limiter = Limiter(key_func=get_remote_address, default_limits=[])


def login_form_email() -> str:
    """Rate-limit key for failed logins per account (web form or API JSON)."""
    email = request.form.get("email")
    if email is None and request.is_json:
        body = request.get_json(silent=True)
        email = body.get("email") if isinstance(body, dict) else None
    return "login-account:" + str(email or "").strip().lower()
