"""The registration form says what is wrong as its hint says it, in German:
"Bitte mindestens 8 Zeichen.", not WTForms' "zwischen 8 und 1024 Zeichen"."""

from __future__ import annotations

from booking.auth.models import User
from tests.conftest import csrf_token


def test_a_short_password_is_refused_in_the_words_of_the_hint(client, db):
    headers = {"Accept-Language": "de"}
    token = csrf_token(client, "/register")
    response = client.post(
        "/register",
        data={
            "name": "Lena Neu",
            "email": "lena.neu@example.org",
            "password": "kurz",
            "csrf_token": token,
        },
        headers=headers,
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Bitte mindestens 8 Zeichen." in text
    assert "zwischen 8 und 1024" not in text
    assert db.query(User).filter_by(email="lena.neu@example.org").count() == 0
