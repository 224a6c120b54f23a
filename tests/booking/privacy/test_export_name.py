"""The personal data download is named in the reader's language."""

from __future__ import annotations

import json

import pytest


@pytest.mark.parametrize(("lang", "name"), [("de", "meine-daten"), ("en", "my-data")])
def test_the_download_is_named_in_the_readers_language(
    client, auth, create_user, lang, name
):
    create_user("m@example.org", name="Lena")
    auth.login("m@example.org")
    client.set_cookie("lang", lang)
    response = client.get("/account/export.json")
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="{name}.json"'
    assert json.loads(response.get_data(as_text=True))
