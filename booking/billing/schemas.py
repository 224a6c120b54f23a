"""API shapes of the ways to pay (the rest of billing's are in api/schemas)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from ..api.contract import Answer, Day, Schema

PaymentMethodName = Literal["stripe", "invoice", "on_site"]


class BankTransfer(Answer):
    """Where to transfer an invoice order's amount."""

    account_holder: str
    iban: str
    bic: str | None = None
    reference: str = Field(description="put this in the transfer's reference")


class PlanPurchase(Schema):
    messages = {"company_id": "company_id must be a number."}
    payment_method: PaymentMethodName | None = Field(
        None,
        description="400 if the plan's location does not offer it; memberships "
        "and company budgets are paid online (stripe) only",
    )
    company_id: int | None = Field(None, description="company budgets only")


class Order(Answer):
    id: int
    kind: Literal["booking", "pack", "membership", "company", "day_pass"]
    description: str
    status: Literal["pending", "paid", "cancelled", "refunded"]
    amount_cents: int = Field(description="gross, VAT included")
    vat_cents: int
    currency: str
    payment_method: PaymentMethodName
    open_cents: int = Field(description="still to be paid")
    due_date: Day | None = None
    bank: BankTransfer | None = None
    pass_id: int | None = None
    checkout: str | None = Field(
        None, description="stripe orders: POST here for the payment_url"
    )
    payment_url: str | None = Field(
        None, description="Stripe Checkout; send the person there"
    )
