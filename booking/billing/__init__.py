"""Orders, payments and Stripe: checkout, webhooks, refunds, reconciliation."""
