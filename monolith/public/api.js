// Every page talks to the app through /api only, so it follows the route table wherever /api goes.

/** An API error: `code` is the stable error code, `fields` the per-field messages. */
export class ApiError extends Error {
  constructor(status, body) {
    super(body?.error?.message ?? `The server answered ${status}.`);
    this.status = status;
    this.code = body?.error?.code ?? 'unknown';
    this.fields = body?.error?.fields ?? {};
  }
}

/** fetch + JSON + the API's error shape. Resolves to the parsed body (undefined for 204). */
export async function api(path, { method = 'GET', body, headers = {} } = {}) {
  const init = { method, headers: { accept: 'application/json', ...headers }, credentials: 'same-origin' };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch {
    throw new ApiError(0, {
      error: { code: 'network_error', message: 'The server could not be reached; check your connection and try again.' },
    });
  }
  if (res.status === 204) return undefined;
  const data = await res.json().catch(() => undefined);
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

/** The logged-in user, or null. */
export async function currentUser() {
  try {
    return (await api('/api/auth/me')).user;
  } catch (err) {
    if (err.status === 401) return null;
    throw err;
  }
}

/** Shows an error in a role=alert element, with field messages as a list. */
export function showError(el, err) {
  el.replaceChildren(document.createTextNode(err.message));
  const entries = Object.entries(err.fields ?? {});
  if (entries.length) {
    const ul = document.createElement('ul');
    for (const [field, message] of entries) {
      const li = document.createElement('li');
      li.textContent = `${field}: ${message}`;
      ul.append(li);
    }
    el.append(ul);
  }
  el.hidden = false;
}

export function clearError(el) {
  el.replaceChildren();
  el.hidden = true;
}

/** A same-site path to go to after logging in; anything else falls back to `/`. */
export function safeNext(value) {
  return typeof value === 'string' && value.startsWith('/') && !value.startsWith('//') && !value.startsWith('/\\') ? value : '/';
}

/** A link to the login page that comes back here afterwards. */
export function loginHref() {
  return `/login?next=${encodeURIComponent(location.pathname + location.search)}`;
}
