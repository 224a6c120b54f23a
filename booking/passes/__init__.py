"""Plans, passes, memberships, company accounts and the credit ledger."""
