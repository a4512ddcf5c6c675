"""The one mapping between our logical CRM names and the org's API names.

An extension's components carry its namespace (`gocardless__`) in their API names:
our two modules and every field we defined in them. Zoho's own modules (Contacts,
Invoices) and the system fields every module has (`Name`, `Email`, `Owner`, ...)
never do. Callers speak logical names; only this module knows the prefix.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

CUSTOMERS = "GoCardless_Customers"
PAYMENTS = "GoCardless_Payments"
CONTACTS = "Contacts"
INVOICES = "Invoices"

CUSTOMER_FIELDS: tuple[str, ...] = (
    "Name",
    "Email",
    "Company_Name",
    "GoCardless_Customer_ID",
    "Contact",
    "Created_At",
)
PAYMENT_FIELDS: tuple[str, ...] = (
    "Name",
    "GoCardless_Payment_ID",
    "Amount",
    "Currency",
    "Status",
    "Charge_Date",
    "GoCardless_Mandate_ID",
    "Customer",
    "Invoice",
    "Description",
    "Failure_Reason",
    "Amount_Refunded",
    "Payout_Date",
)
MODULE_FIELDS: Mapping[str, tuple[str, ...]] = {
    CUSTOMERS: CUSTOMER_FIELDS,
    PAYMENTS: PAYMENT_FIELDS,
}
# The upsert keys: each must be unique in its module for upserts to be idempotent.
ID_FIELDS: Mapping[str, str] = {
    CUSTOMERS: "GoCardless_Customer_ID",
    PAYMENTS: "GoCardless_Payment_ID",
}
# Lookup fields and the logical module they point at.
LOOKUPS: Mapping[str, Mapping[str, str]] = {
    CUSTOMERS: {"Contact": CONTACTS},
    PAYMENTS: {"Customer": CUSTOMERS, "Invoice": INVOICES},
}
# Fields whose values are money in major units; read back as Decimal.
DECIMAL_FIELDS: Mapping[str, frozenset[str]] = {PAYMENTS: frozenset({"Amount", "Amount_Refunded"})}

# Fields Zoho creates in every module (the contract's `Name` and `Email` among them);
# the extension does not own them, so they carry no prefix. `Currency` is NOT here: the
# contract defines it as one of the extension's own fields.
STANDARD_FIELDS: frozenset[str] = frozenset(
    {
        "id",
        "Name",
        "Email",
        "Secondary_Email",
        "Owner",
        "Created_By",
        "Modified_By",
        "Created_Time",
        "Modified_Time",
        "Last_Activity_Time",
        "Tag",
        "Layout",
        "Record_Image",
        "Locked__s",
        "Unsubscribed_Mode",
        "Unsubscribed_Time",
    }
)


class ZohoNames:
    """Logical ↔ API names for one namespace (e.g. `gocardless__`, or "" outside an extension)."""

    def __init__(self, namespace: str) -> None:
        self.namespace = namespace
        # (module, logical field) -> API field: a write names the same dozen fields per
        # record, for every record of every batch.
        self._api_fields: dict[tuple[str, str], str] = {}

    def is_ours(self, module: str) -> bool:
        return module in MODULE_FIELDS

    def module(self, logical: str) -> str:
        return self.namespace + logical if self.is_ours(logical) else logical

    def field(self, logical: str) -> str:
        """API name of one of OUR modules' fields."""
        if logical in STANDARD_FIELDS or logical.startswith("$"):
            return logical
        return self.namespace + logical

    def api_field(self, module: str, logical: str) -> str:
        """API name of a field of any module; Zoho's modules keep their names."""
        return self.field(logical) if self.is_ours(module) else logical

    def logical_field(self, module: str, api_name: str) -> str:
        if self.is_ours(module) and self.namespace and api_name.startswith(self.namespace):
            return api_name[len(self.namespace) :]
        return api_name

    def logical_module(self, api_name: str) -> str:
        if self.namespace and api_name.startswith(self.namespace):
            logical = api_name[len(self.namespace) :]
            if self.is_ours(logical):
                return logical
        return api_name

    def to_api(self, module: str, record: Mapping[str, Any]) -> dict[str, Any]:
        """A record for writing; a lookup given as a bare id becomes `{"id": ...}`."""
        lookups = LOOKUPS.get(module, {})
        names = self._api_fields
        out: dict[str, Any] = {}
        for key, value in record.items():
            if key in lookups and isinstance(value, str):
                value = {"id": value}
            name = names.get((module, key))
            if name is None:
                name = names[(module, key)] = self.api_field(module, key)
            out[name] = value
        return out

    def from_api(self, module: str, record: Mapping[str, Any]) -> dict[str, Any]:
        decimals = DECIMAL_FIELDS.get(module, frozenset())
        out: dict[str, Any] = {}
        for key, value in record.items():
            logical = self.logical_field(module, key)
            if logical in decimals and isinstance(value, int) and not isinstance(value, bool):
                # The client parses JSON fractions as Decimal; a whole amount arrives as int.
                value = Decimal(value)
            out[logical] = value
        return out

    def criterion(self, module: str, field: str, value: str, operator: str = "equals") -> str:
        """One search condition, `(api_name:operator:value)`, with the value escaped."""
        return f"({self.api_field(module, field)}:{operator}:{escape_criteria_value(value)})"


def escape_criteria_value(value: str) -> str:
    out = value
    for char in "(),":
        out = out.replace(char, "\\" + char)
    return out
