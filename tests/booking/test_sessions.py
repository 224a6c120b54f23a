"""Bearer-token calls of the JSON API leave the cookie session alone."""

from __future__ import annotations


def test_a_bearer_call_neither_reads_nor_writes_the_cookie_session(
    api, auth, client, create_user
):
    member = create_user()
    bearer = api(member)
    # A cookie that does not verify would be dropped (and the drop written
    # back) if the session were opened; a bearer call ignores it.
    bearer.set_cookie("session", "not-a-signed-session")
    response = bearer.get("/api/v1/me")
    assert response.status_code == 200
    assert response.get_json()["id"] == member.id
    assert "Set-Cookie" not in response.headers
    assert "Cookie" not in response.headers.get("Vary", "")

    # The browser's session still works on the API and on pages.
    auth.login(member.email)
    response = client.get("/api/v1/me")
    assert response.status_code == 200
    assert response.get_json()["id"] == member.id
    assert "Cookie" in response.headers.get("Vary", "")
