"""A member's billing address: given on the account page, carried by their
invoices (§ 14 Abs. 4 Nr. 1 UStG), in the data download, gone with the
account."""

from __future__ import annotations

from booking.auth.models import User
from booking.privacy import services as privacy
from tests.support.billing_helpers import fresh


def test_the_account_page_saves_the_address_line_by_line(
    client, auth, db, create_user
):
    user = create_user("lena@example.org", name="Lena Berg")
    auth.login("lena@example.org")
    client.set_cookie("lang", "de")
    page = client.get("/account/").get_data(as_text=True)
    assert "Rechnungsanschrift" in page
    response = client.post(
        "/account/billing-address",
        data={
            "billing_address": "  Lindenweg 4 \r\n\r\n04838 Eilenburg  ",
            "csrf_token": auth.csrf("/account/"),
        },
    )
    assert response.status_code == 303
    assert response.headers["Location"].endswith("/account/?at=billing#billing")
    fresh(db)
    assert db.get(User, user.id).billing_address == "Lindenweg 4\n04838 Eilenburg"
    page = client.get("/account/").get_data(as_text=True)
    assert "Lindenweg 4\n04838 Eilenburg</textarea>" in page


def test_a_long_address_is_refused_and_the_old_one_kept(client, auth, db, create_user):
    user = create_user("lena@example.org", name="Lena Berg")
    auth.login("lena@example.org")
    client.set_cookie("lang", "de")
    token = auth.csrf("/account/")
    client.post(
        "/account/billing-address",
        data={"billing_address": "Lindenweg 4\n04838 Eilenburg", "csrf_token": token},
    )
    response = client.post(
        "/account/billing-address",
        data={"billing_address": "\n".join("abcdef"), "csrf_token": token},
        follow_redirects=True,
    )
    page = response.get_data(as_text=True)
    # The error shows in the address's section, where the page scrolls to.
    section = page[page.index('id="billing"') : page.index('id="profile"')]
    assert "höchstens fünf Zeilen" in section
    fresh(db)
    assert db.get(User, user.id).billing_address == "Lindenweg 4\n04838 Eilenburg"


def test_the_download_holds_it_and_deleting_the_account_clears_it(
    db, create_user
):
    user = create_user("lena@example.org", name="Lena Berg", password="password123")
    privacy.save_billing_address(db, user, "Lindenweg 4\n04838 Eilenburg")
    data = privacy.export_user_data(db, user)
    assert data["account"]["billing_address"] == "Lindenweg 4\n04838 Eilenburg"
    privacy.delete_account(db, user, "password123")
    fresh(db)
    assert db.get(User, user.id).billing_address == ""
