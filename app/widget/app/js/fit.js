// The CRM opens the widget in a frame of its own height, which cut off whatever did not fit
// (the earlier payments). The widget asks for a frame as tall as its content: through the Zoho
// SDK inside Zoho CRM, by a message to the page that framed it elsewhere (the demo's CRM).
// Whatever the frame ends up as, the page still scrolls.

export const HEIGHT_MESSAGE = "gocardless-zoho:height";

function contentHeight() {
  const style = getComputedStyle(document.body);
  const margins = parseFloat(style.marginTop) + parseFloat(style.marginBottom);
  return Math.ceil(document.body.getBoundingClientRect().height + margins);
}

export function fitFrameToContent() {
  if (window.parent === window || typeof ResizeObserver === "undefined") return;
  let last = 0;
  const report = () => {
    const height = contentHeight();
    if (height === last) return;
    last = height;
    window.ZOHO?.CRM?.UI?.Resize?.({ height: String(height) });
    window.parent.postMessage({ type: HEIGHT_MESSAGE, height }, "*");
  };
  new ResizeObserver(report).observe(document.body);
  report();
}
