// Building DOM from data. Text from the CRM or the service always goes in as text nodes, never
// as HTML, so a contact called "<img onerror=…>" stays a name.

/** h("button", {class: "primary", onclick: fn}, "Proceed") */
export function h(tag, props, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props ?? {})) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith("on")) element.addEventListener(name.slice(2), value);
    else element.setAttribute(name, value === true ? "" : String(value));
  }
  append(element, children);
  return element;
}

function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
}

/** Replace an element's content. */
export function fill(element, ...children) {
  element.replaceChildren();
  append(element, children);
  return element;
}

/** Only http(s) links are made clickable; anything else (javascript:, data:) is dropped. */
export function safeUrl(value) {
  try {
    const url = new URL(String(value));
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : null;
  } catch {
    return null;
  }
}

/** A link that opens in a new window, styled as a button. */
export function externalButton(href, label) {
  const url = safeUrl(href);
  if (!url) return null;
  return h(
    "a",
    { class: "button", href: url, target: "_blank", rel: "noopener noreferrer" },
    label,
    h("span", { class: "visually-hidden" }, " (opens in a new window)"),
  );
}
