"""The few HTML pages a person sees: consent, Accounts errors, the outbox, the CRM invoice."""

from __future__ import annotations

from html import escape
from urllib.parse import urlencode

from app.simulators.zoho.schema import custom_module_names
from app.simulators.zoho.state import Mail, Org

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5rem auto;padding:0 1rem;max-width:64rem;"
    "color:#222}table{border-collapse:collapse;max-width:100%}"
    "td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left;vertical-align:top}"
    "table.record th{width:14rem;background:#f6f6f6}"
    "button{padding:.4rem .9rem;margin-right:.5rem}.sim{color:#888;font-size:.8rem}"
    ".scroll{overflow-x:auto}nav{margin-bottom:1rem}nav a{margin-right:1rem}"
    ".mail{border:1px solid #ccc;border-radius:6px;padding:.8rem 1rem;margin:1rem 0}"
    ".mail dl{display:grid;grid-template-columns:max-content 1fr;gap:.2rem 1rem;margin:0 0 .8rem}"
    ".mail dt{color:#555}.mail dd{margin:0;overflow-wrap:anywhere}"
    ".mail iframe{width:100%;height:18rem;border:1px solid #eee;box-sizing:border-box}"
)


def page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{escape(title)}</title>"
        f"<style>{_STYLE}</style></head><body>{body}"
        "<p class='sim'>Zoho simulator - offline stand-in, not a Zoho service.</p></body></html>"
    )


def crm_nav(org: Org) -> str:
    """The CRM's module tabs: what the extension writes is one click from the invoices."""
    customers, payments = custom_module_names(org.namespace)
    links = (
        ("/_sim/crm", "Invoices"),
        ("/_sim/crm/modules/Contacts", "Contacts"),
        (f"/_sim/crm/modules/{customers}", "GoCardless Customers"),
        (f"/_sim/crm/modules/{payments}", "GoCardless Payments"),
        ("/_sim/outbox", "Outbox"),
    )
    items = "".join(f"<a href='{escape(url)}'>{escape(label)}</a>" for url, label in links)
    company = f"<span class='sim'>{escape(org.company_name)}</span>"
    return f"<nav aria-label='CRM modules'>{items} {company}</nav>"


def accounts_error(message: str) -> str:
    return page("Zoho Accounts", f"<h1>Zoho Accounts</h1><p>{escape(message)}</p>")


# The Zoho account this browser is signed in to (set by the simulated CRM's pages).
SIGNED_IN_COOKIE = "zohosim_signed_in"


def consent(
    *,
    client_name: str,
    scopes: list[str],
    orgs: list[Org],
    hidden: dict[str, str],
    signed_in: str | None = None,
) -> str:
    """Zoho's consent: the user picks the CRM org and (here, for the demo and tests) which of
    its users they are; the account signed in to the simulated CRM comes first, selected."""
    options = "".join(
        f"<option value='{escape(org.id)}:{escape(user.id)}'"
        f"{' selected' if signed_in == f'{org.id}:{user.id}' else ''}>"
        f"{escape(org.company_name)} ({escape(org.location)}) - {escape(user.full_name)}, "
        f"{escape(org.profiles[user.profile_id])}</option>"
        for org in orgs
        for user in org.users.values()
        if user.status == "active"
    )
    fields = "".join(
        f"<input type='hidden' name='{escape(k)}' value='{escape(v)}'>" for k, v in hidden.items()
    )
    scope_items = "".join(f"<li><code>{escape(s)}</code></li>" for s in scopes)
    return page(
        "Authorize application",
        f"<h1>Authorize {escape(client_name)}</h1><p>This application asks for:</p>"
        f"<ul>{scope_items}</ul><form method='post' action='/oauth/v2/auth'>{fields}"
        f"<label>CRM organization and user <select name='account'>{options}</select></label>"
        "<p><button name='decision' value='approve'>Accept</button>"
        "<button name='decision' value='deny'>Reject</button></p></form>",
    )


def _mail_body(mail: Mail) -> str:
    """The mail rendered in a sandboxed frame, so its HTML cannot touch this page."""
    html = mail.content if mail.mail_format == "html" else f"<pre>{escape(mail.content)}</pre>"
    return f"<iframe sandbox title='Content' srcdoc='{escape(html)}'></iframe>"


def _mail(mail: Mail) -> str:
    """One mail as a card as wide as the page: headers above, the content below."""
    to = ", ".join(t.get("email", "") for t in mail.to)
    headers = (
        ("Subject", mail.subject),
        ("From", mail.from_.get("email", "")),
        ("To", to),
        ("Sent", mail.sent_at),
        ("Record", f"{mail.module} {mail.record_id}"),
    )
    items = "".join(f"<dt>{name}</dt><dd>{escape(value)}</dd>" for name, value in headers)
    return f"<article class='mail'><dl>{items}</dl>{_mail_body(mail)}</article>"


def outbox(mails: list[Mail]) -> str:
    cards = "".join(_mail(m) for m in reversed(mails)) or "<p>No mail sent yet.</p>"
    return page(
        "Outbox",
        "<h1>Outbox</h1><p>Mail sent through the CRM send-mail action, newest first "
        f"(<a href='/_sim/outbox.json'>JSON</a>).</p>{cards}",
    )


def crm_invoices(rows: list[tuple[Org, dict[str, str]]]) -> str:
    """Index of every org's invoices; each row is (org, rendered invoice)."""
    body = "".join(
        f"<tr><td><a href='/_sim/crm/invoices/{escape(inv['id'])}'>"
        f"{escape(inv.get('Invoice_Number') or '')}</a></td><td>{escape(inv['Subject'])}</td>"
        f"<td>{escape(inv.get('contact') or '-')}</td>"
        f"<td>{escape(inv.get('total') or '')} {escape(inv.get('Currency') or '')}</td>"
        f"<td>{escape(org.company_name)}</td></tr>"
        for org, inv in rows
    )
    nav = crm_nav(rows[0][0]) if rows else ""
    return page(
        "CRM - Invoices",
        f"{nav}<h1>Invoices</h1><table><tr><th>Number</th><th>Subject</th><th>Contact</th>"
        f"<th>Total</th><th>Organization</th></tr>{body}</table>",
    )


# Opens the widget in the page's frame, and sizes the frame to the height the widget reports
# (as Zoho's popup does on ZOHO.CRM.UI.Resize), up to most of the window; beyond, it scrolls.
_WIDGET_FRAME_SCRIPT = (
    "const frame=document.getElementById('widget');"
    "function openWidget(b){frame.src=b.dataset.src;frame.style.display='block';}"
    "window.addEventListener('message',e=>{"
    "if(e.source!==frame.contentWindow||!e.data||e.data.type!=='gocardless-zoho:height')return;"
    "const h=Math.min(Number(e.data.height)||0,Math.round(window.innerHeight*0.85));"
    "if(h>0)frame.style.height=(h+2)+'px';});"
)


def crm_invoice(org: Org, invoice: dict[str, str], user_id: str, widget_url: str) -> str:
    """A CRM Invoice detail page with the extension's two buttons; each opens the widget
    in the page (iframe) the way CRM opens a button widget in a popup."""

    def widget_link(action: str) -> str:
        query = urlencode(
            {"invoice_id": invoice["id"], "user_id": user_id, "org_id": org.id, "action": action}
        )
        # The query goes before any fragment the configured widget address may carry.
        base, hash_mark, fragment = widget_url.partition("#")
        return f"{base}{'&' if '?' in base else '?'}{query}{hash_mark}{fragment}"

    users = " | ".join(
        ("<b>" if u.id == user_id else "")
        + f"<a href='?user_id={escape(u.id)}'>{escape(u.full_name)} "
        f"({escape(org.profiles[u.profile_id])})</a>" + ("</b>" if u.id == user_id else "")
        for u in org.users.values()
        if u.status == "active"
    )
    buttons = "".join(
        f"<button data-src='{escape(widget_link(action))}' onclick=\"openWidget(this)\">"
        f"{label}</button>"
        for action, label in (
            ("send_invoice", "Send Invoice - GoCardless"),
            ("cancel_payment", "Cancel Payment - GoCardless"),
        )
    )
    return page(
        f"Invoice {invoice.get('Invoice_Number', '')}",
        f"{crm_nav(org)}<p>Signed in as: {users}</p>"
        f"<h1>Invoice {escape(invoice.get('Invoice_Number') or '')}</h1><table>"
        f"<tr><th>Subject</th><td>{escape(invoice['Subject'])}</td></tr>"
        f"<tr><th>Contact</th><td>{escape(invoice.get('contact') or '-')}</td></tr>"
        f"<tr><th>Status</th><td>{escape(invoice.get('Status') or '')}</td></tr>"
        f"<tr><th>Grand Total</th><td>{escape(invoice.get('total') or '')} "
        f"{escape(invoice.get('Currency') or '')}</td></tr></table>"
        f"<p>{buttons}</p>"
        "<iframe id='widget' title='GoCardless widget' "
        "style='display:none;width:100%;height:32rem;border:1px solid #ccc'></iframe>"
        f"<script>{_WIDGET_FRAME_SCRIPT}</script>",
    )
