"""The invoice pages: operator's invoice details (the issuer), open invoices
with payment recording, members' "Invoices"."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from booking.billing.models import Order, OrderStatus
from booking.invoicing.models import Invoice, Issuer
from tests.booking.invoicing.conftest import ISSUER
from tests.support.billing_helpers import fresh


def test_an_operator_sets_up_the_invoice_details(
    db, client, auth, create_user, create_location
):
    operator = create_user("op@example.org", role="operator")
    location = create_location(operator, name="Dorfbüro")
    auth.login("op@example.org")
    page = client.get("/operator/invoicing")
    assert page.status_code == 200 and "Dorfbüro" in page.text
    token = auth.csrf("/operator/invoicing")
    bad = client.post(
        f"/operator/invoicing/{location.id}",
        data={**ISSUER, "postcode": "123", "csrf_token": token},
    )
    assert bad.status_code == 400 and "five digits" in bad.text
    assert 'aria-invalid="true"' in bad.text
    ok = client.post(
        f"/operator/invoicing/{location.id}",
        data={**ISSUER, "small_business": "on", "csrf_token": token},
    )
    assert ok.status_code == 303
    fresh(db)
    issuer = db.scalar(select(Issuer))
    assert issuer.name == ISSUER["name"] and issuer.small_business
    assert issuer.payment_terms_days == 14
    page = client.get("/operator/invoicing")
    assert ISSUER["iban"] in page.text


def test_an_operator_of_another_location_cannot_touch_the_details(
    db, client, auth, create_user, create_location
):
    create_location(create_user(role="operator"))
    theirs = create_location(create_user(role="operator"))
    create_user("other@example.org", role="operator")
    auth.login("other@example.org")
    token = auth.csrf("/operator/invoicing")
    answer = client.post(
        f"/operator/invoicing/{theirs.id}", data={**ISSUER, "csrf_token": token}
    )
    assert answer.status_code == 403
    fresh(db)
    assert db.scalar(select(Issuer)) is None


def test_the_operator_records_a_transfer_against_an_open_invoice(
    db, client, auth, space, create_user, buy
):
    _location, _operator, plan = space
    member = create_user("anna@example.org", name="Anna Muster")
    order = buy(member, plan)
    auth.login("op@example.org")
    page = client.get("/operator/invoices")
    assert "RE-000001" in page.text and "Anna Muster" in page.text
    fresh(db)
    invoice = db.scalar(select(Invoice))
    token = auth.csrf("/operator/invoices")
    answer = client.post(
        f"/operator/invoices/{invoice.id}/payments",
        data={
            "amount": "15,00",
            "paid_on": date.today().isoformat(),
            "kind": "bank_transfer",
            "form_key": "k1",
            "csrf_token": token,
        },
    )
    assert answer.status_code == 303
    fresh(db)
    assert db.get(Order, order.id).status == OrderStatus.PAID
    page = client.get("/operator/invoices?show=all")
    assert "RE-000001" in page.text
    assert "Record payment" not in page.text


def test_a_member_sees_their_invoices_and_no_one_elses(
    db, client, auth, space, create_user, buy
):
    _location, _operator, plan = space
    anna = create_user("anna@example.org", name="Anna Muster")
    bert = create_user("bert@example.org", name="Bert")
    buy(anna, plan)
    buy(bert, plan)
    auth.login("anna@example.org")
    page = client.get("/account/invoices")
    assert page.status_code == 200
    assert "RE-000001" in page.text and "RE-000002" not in page.text
    fresh(db)
    bert_invoice = db.scalar(select(Invoice).where(Invoice.user_id == bert.id))
    assert client.get(f"/api/v1/invoices/{bert_invoice.id}/pdf").status_code == 404


def test_a_company_admin_enters_the_leitweg_id(db, client, auth, space, create_user):
    from booking.passes.models import Company

    location, _operator, _plan = space
    boss = create_user("amt@example.org", name="Amt")
    company = Company(name="Gemeinde", admin_user_id=boss.id, location_id=location.id)
    db.add(company)
    db.commit()
    auth.login("amt@example.org")
    page = client.get("/account/invoices")
    assert "Gemeinde" in page.text and 'name="leitweg_id"' in page.text
    token = auth.csrf("/account/invoices")
    url = f"/account/invoices/company/{company.id}"
    bad = client.post(url, data={"leitweg_id": "12345", "csrf_token": token})
    assert bad.status_code == 400
    assert "A Leitweg-ID looks like 04011000-12345-03." in bad.text
    assert 'value="12345"' in bad.text and 'aria-invalid="true"' in bad.text
    client.post(
        url,
        data={
            "leitweg_id": "14627090-kt001-12",
            "billing_address": "Hauptstraße 3\n01665 Käbschütztal",
            "order_reference": "",
            "csrf_token": token,
        },
    )
    fresh(db)
    company = db.get(Company, company.id)
    assert company.leitweg_id == "14627090-KT001-12"
    assert company.billing_address.endswith("01665 Käbschütztal")
    other = create_user("x@example.org")
    auth.logout()
    auth.login("x@example.org")
    token = auth.csrf("/account/invoices")
    assert client.post(url, data={"csrf_token": token}).status_code == 404
    assert other.id


def test_the_members_data_export_holds_their_invoices_and_deletion_keeps_them(
    db, api, space, create_user, buy
):
    from booking.privacy.services import delete_account

    _location, _operator, plan = space
    member = create_user("anna@example.org", name="Anna Muster")
    order = buy(member, plan)
    data = api(member).get("/api/v1/me/export").get_json()
    (exported,) = data["issued_invoices"]
    assert exported["number"] == "RE-000001" and exported["gross_cents"] == 1500
    assert exported["recipient"] == "Anna Muster"
    from booking.billing import services as billing

    billing.cancel_day_pass(db, member, order.pass_id)
    delete_account(db, member, "password123")
    fresh(db)
    # Kept for the retention period, with the name the law asks for.
    names = [i.recipient_name for i in db.scalars(select(Invoice))]
    assert names == ["Anna Muster", "Anna Muster"]
