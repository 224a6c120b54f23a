"""Invoices for every sale (booking/invoicing, above billing): docs/invoicing.md."""
