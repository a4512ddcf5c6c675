"""GoCardless for Zoho CRM: the back-end service of the CRM extension."""

__version__ = "0.1.0"
