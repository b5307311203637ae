/** "$12.50" / "€12.50" from integer cents. */
export function money(cents, currency) {
  return new Intl.NumberFormat('en-US', { style: 'currency', currency }).format(cents / 100);
}

export function date(iso) {
  return new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeZone: 'UTC' }).format(new Date(iso));
}

export function kg(n) {
  return `${new Intl.NumberFormat('en-US').format(n)} kg`;
}

export function capitalise(s) {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

/** An element with text content and attributes; children appended in order. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'text') node.textContent = v;
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  node.append(...children.filter((c) => c !== undefined && c !== null));
  return node;
}
