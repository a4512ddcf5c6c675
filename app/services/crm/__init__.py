"""The mirror's rows on their way to the CRM modules GoCardless Customers and Payments.

Modules: `batches` (due rows read as CRM records, 100 to an upsert), `push` (the upserts,
their outcomes recorded on the mirror rows, the counts) and `scheduler` (the worker's pass
over installations with rows to write).
"""
