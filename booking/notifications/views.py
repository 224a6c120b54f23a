"""Mails that could not be sent, shown to operators on their console."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from ..db import get_db
from ..spaces.services import managed_location_ids
from . import services

bp = Blueprint("notifications", __name__)


@bp.app_context_processor
def _mail_helpers():
    def failed_mails():
        if not (current_user.is_authenticated and current_user.is_operator):
            return []
        db = get_db()
        return services.failed_mails(db, managed_location_ids(db, current_user))

    return {"failed_mails": failed_mails}
