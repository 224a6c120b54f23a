"""Flask extensions, created unbound and initialised in create_app."""

from flask_babel import Babel
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect

login_manager = LoginManager()
csrf = CSRFProtect()
babel = Babel()
# No default limits: limits are declared where they matter (unlock, password
# reset mails); failed logins have their own throttle (auth/throttle.py).
limiter = Limiter(key_func=get_remote_address, default_limits=[])
