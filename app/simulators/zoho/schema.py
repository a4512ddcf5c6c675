"""Module and field definitions of a simulated org: what `/settings/*` reports and what
every write is validated against.

The two custom modules carry the fields the GoCardless extension package defines; with an
extension namespace their API names, and those of their custom fields, get the prefix
(standard fields such as `Name` and `Email` never do).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from app.simulators.zoho.ids import IdSequence

# data_type -> json_type, as field metadata reports them.
JSON_TYPES = {
    "text": "string",
    "textarea": "string",
    "email": "string",
    "phone": "string",
    "website": "string",
    "picklist": "string",
    "autonumber": "string",
    "date": "string",
    "datetime": "string",
    "integer": "integer",
    "bigint": "string",
    "double": "double",
    "currency": "double",
    "boolean": "boolean",
    "lookup": "jsonobject",
    # A lookup to a record of any of several modules: Notes' Parent_Id (written as
    # {"module": {"api_name"}, "id"}) and Tasks' What_Id (module named by the row's $se_module).
    "multi_module_lookup": "jsonobject",
    "ownerlookup": "jsonobject",
}


@dataclass
class FieldDef:
    api_name: str
    label: str
    data_type: str
    length: int = 255
    mandatory: bool = False
    unique: bool = False
    read_only: bool = False
    custom: bool = False
    lookup_module: str | None = None
    pick_list_values: tuple[str, ...] = ()
    id: str = ""

    @property
    def json_type(self) -> str:
        return JSON_TYPES[self.data_type]


@dataclass
class ModuleDef:
    api_name: str
    singular_label: str
    plural_label: str
    custom: bool
    fields: dict[str, FieldDef] = field(default_factory=dict)
    # Fields upsert matches on by default, before any unique field (the docs' table:
    # Contacts Email, Invoices Subject, custom modules Name).
    system_duplicate_fields: tuple[str, ...] = ()
    id: str = ""

    def field_named(self, api_name: str) -> FieldDef | None:
        return self.fields.get(api_name)

    def unique_fields(self) -> list[str]:
        return [f.api_name for f in self.fields.values() if f.unique]

    def scope_name(self) -> str:
        """Module segment of `ZohoCRM.modules.<segment>.<OP>` scopes."""
        return self.api_name.lower()


CURRENCY_DECIMALS = Decimal("0.01")
SYSTEM_FIELDS = ("Created_Time", "Modified_Time", "Created_By", "Modified_By")


def _system_fields(ids: IdSequence) -> list[FieldDef]:
    return [
        FieldDef("Owner", "Owner", "ownerlookup", id=ids.next()),
        FieldDef("Created_Time", "Created Time", "datetime", read_only=True, id=ids.next()),
        FieldDef("Modified_Time", "Modified Time", "datetime", read_only=True, id=ids.next()),
        FieldDef("Created_By", "Created By", "ownerlookup", read_only=True, id=ids.next()),
        FieldDef("Modified_By", "Modified By", "ownerlookup", read_only=True, id=ids.next()),
    ]


def _module(
    ids: IdSequence,
    api_name: str,
    labels: tuple[str, str],
    fields: list[FieldDef],
    *,
    custom: bool,
    duplicate_fields: tuple[str, ...],
) -> ModuleDef:
    for f in fields:
        f.id = ids.next()
    all_fields = [*fields, *_system_fields(ids)]
    return ModuleDef(
        api_name=api_name,
        singular_label=labels[0],
        plural_label=labels[1],
        custom=custom,
        fields={f.api_name: f for f in all_fields},
        system_duplicate_fields=duplicate_fields,
        id=ids.next(),
    )


def custom_module_names(namespace: str) -> tuple[str, str]:
    return f"{namespace}GoCardless_Customers", f"{namespace}GoCardless_Payments"


def build_modules(ids: IdSequence, namespace: str, currencies: tuple[str, ...]) -> list[ModuleDef]:
    ns = namespace
    customers, payments = custom_module_names(ns)
    contacts = _module(
        ids,
        "Contacts",
        ("Contact", "Contacts"),
        [
            FieldDef("First_Name", "First Name", "text", length=40),
            FieldDef("Last_Name", "Last Name", "text", length=80, mandatory=True),
            FieldDef("Full_Name", "Full Name", "text", read_only=True),
            FieldDef("Email", "Email", "email", length=100),
            FieldDef("Secondary_Email", "Secondary Email", "email", length=100),
            FieldDef("Phone", "Phone", "phone", length=30),
            FieldDef("Mobile", "Mobile", "phone", length=30),
            FieldDef("Title", "Title", "text", length=100),
            FieldDef("Mailing_Street", "Mailing Street", "text", length=250),
            FieldDef("Mailing_City", "Mailing City", "text", length=100),
            FieldDef("Mailing_Zip", "Mailing Zip", "text", length=30),
            FieldDef("Mailing_Country", "Mailing Country", "text", length=100),
            FieldDef("Email_Opt_Out", "Email Opt Out", "boolean"),
            FieldDef("Description", "Description", "textarea", length=32000),
        ],
        custom=False,
        duplicate_fields=("Email",),
    )
    invoices = _module(
        ids,
        "Invoices",
        ("Invoice", "Invoices"),
        [
            FieldDef("Subject", "Subject", "text", mandatory=True),
            FieldDef("Invoice_Number", "Invoice Number", "autonumber", read_only=True),
            FieldDef("Invoice_Date", "Invoice Date", "date"),
            FieldDef("Due_Date", "Due Date", "date"),
            FieldDef(
                "Status",
                "Status",
                "picklist",
                pick_list_values=("Created", "Approved", "Delivered", "Cancelled"),
            ),
            FieldDef("Contact_Name", "Contact Name", "lookup", lookup_module="Contacts"),
            FieldDef("Sub_Total", "Sub Total", "currency", length=16, read_only=True),
            FieldDef("Tax", "Tax", "currency", length=16, read_only=True),
            FieldDef("Grand_Total", "Grand Total", "currency", length=16, read_only=True),
            # Only with multi-currency on: otherwise Zoho has no such fields at all.
            *(
                [
                    FieldDef("Currency", "Currency", "picklist", pick_list_values=currencies),
                    FieldDef("Exchange_Rate", "Exchange Rate", "double", length=16),
                ]
                if len(currencies) > 1
                else []
            ),
            FieldDef("Terms_and_Conditions", "Terms and Conditions", "textarea", length=32000),
            FieldDef("Description", "Description", "textarea", length=32000),
        ],
        custom=False,
        duplicate_fields=("Subject",),
    )
    gc_customers = _module(
        ids,
        customers,
        ("GoCardless Customer", "GoCardless Customers"),
        [
            FieldDef("Name", "GoCardless Customer Name", "text", length=120, mandatory=True),
            FieldDef("Email", "Email", "email", length=100),
            FieldDef(f"{ns}Company_Name", "Company Name", "text", custom=True),
            FieldDef(
                f"{ns}GoCardless_Customer_ID",
                "GoCardless Customer ID",
                "text",
                unique=True,
                custom=True,
            ),
            FieldDef(f"{ns}Contact", "Contact", "lookup", lookup_module="Contacts", custom=True),
            FieldDef(f"{ns}Created_At", "Created At", "datetime", custom=True),
        ],
        custom=True,
        duplicate_fields=("Name",),
    )
    gc_payments = _module(
        ids,
        payments,
        ("GoCardless Payment", "GoCardless Payments"),
        [
            FieldDef("Name", "GoCardless Payment Name", "text", length=120, mandatory=True),
            FieldDef(
                f"{ns}GoCardless_Payment_ID",
                "GoCardless Payment ID",
                "text",
                unique=True,
                custom=True,
            ),
            FieldDef(f"{ns}Amount", "Amount", "currency", length=16, custom=True),
            FieldDef(f"{ns}Currency", "Currency", "text", length=10, custom=True),
            FieldDef(f"{ns}Status", "Status", "text", length=50, custom=True),
            FieldDef(f"{ns}Charge_Date", "Charge Date", "date", custom=True),
            FieldDef(f"{ns}GoCardless_Mandate_ID", "GoCardless Mandate ID", "text", custom=True),
            FieldDef(f"{ns}Customer", "Customer", "lookup", lookup_module=customers, custom=True),
            FieldDef(f"{ns}Invoice", "Invoice", "lookup", lookup_module="Invoices", custom=True),
            FieldDef(f"{ns}Description", "Description", "textarea", length=2000, custom=True),
            FieldDef(f"{ns}Failure_Reason", "Failure Reason", "textarea", length=2000, custom=True),
            FieldDef(f"{ns}Amount_Refunded", "Amount Refunded", "currency", length=16, custom=True),
            FieldDef(f"{ns}Payout_Date", "Payout Date", "date", custom=True),
        ],
        custom=True,
        duplicate_fields=("Name",),
    )
    notes = _module(
        ids,
        "Notes",
        ("Note", "Notes"),
        [
            FieldDef("Note_Title", "Note Title", "text"),
            FieldDef("Note_Content", "Note Content", "textarea", length=32000, mandatory=True),
            FieldDef("Parent_Id", "Parent ID", "multi_module_lookup", mandatory=True),
        ],
        custom=False,
        duplicate_fields=(),
    )
    tasks = _module(
        ids,
        "Tasks",
        ("Task", "Tasks"),
        [
            FieldDef("Subject", "Subject", "text", mandatory=True),
            FieldDef("Due_Date", "Due Date", "date"),
            FieldDef(
                "Status",
                "Status",
                "picklist",
                pick_list_values=(
                    "Not Started",
                    "Deferred",
                    "In Progress",
                    "Completed",
                    "Waiting for input",
                ),
            ),
            FieldDef(
                "Priority",
                "Priority",
                "picklist",
                pick_list_values=("Highest", "High", "Normal", "Low", "Lowest"),
            ),
            FieldDef("What_Id", "What Id", "multi_module_lookup"),
            FieldDef("Description", "Description", "textarea", length=32000),
        ],
        custom=False,
        duplicate_fields=(),
    )
    return [contacts, invoices, gc_customers, gc_payments, notes, tasks]
