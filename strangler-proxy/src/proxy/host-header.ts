/**
 * The Host header as RFC 9110 §7.2 defines it (`uri-host [ ":" port ]`, uri-host from RFC 3986
 * §3.2.2), read strictly: a DNS name, a dotted-quad IPv4 address or a bracketed IPv6 address, then
 * optionally `:` and a port of 0–65535. Nothing else — no userinfo, path, query, spaces or second
 * colon — so what the allow-list checks is exactly the host an upstream or a browser would see.
 *
 * Stricter than RFC 3986 on purpose: percent-encoded and sub-delim characters in a name (legal in a
 * reg-name, never in a DNS name), IPvFuture and IPv6 zone identifiers are refused, as is a name
 * whose last label is a number unless it is a plain dotted quad (so `127.1` or `0x7f.0.0.1`, which
 * some resolvers read as addresses, are never compared as names).
 */
export interface ParsedHost {
  /** Lower-case name, dotted quad, or `[canonical IPv6]`; a name's one trailing dot dropped. */
  readonly hostname: string;
  /** The port when one was given. */
  readonly port: number | undefined;
}

const LABEL = /^[a-z0-9_-]{1,63}$/;
const OCTET = /^(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const DIGITS = /^\d{1,5}$/;

// Nearly every request names the same host, so the last answer is kept: a parse is pure, and
// what it returns is frozen.
let last: { value: string; parsed: ParsedHost | undefined } = { value: '', parsed: undefined };

/** The host and port of a Host (or X-Forwarded-Host) value, or undefined when it is malformed. */
export function parseHost(value: string): ParsedHost | undefined {
  if (value !== last.value) last = { value, parsed: parse(value) };
  return last.parsed;
}

function parse(value: string): ParsedHost | undefined {
  let hostPart: string;
  let portPart: string | undefined;
  if (value.startsWith('[')) {
    const close = value.indexOf(']');
    if (close < 0) return undefined;
    hostPart = value.slice(0, close + 1);
    const rest = value.slice(close + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) return undefined;
      portPart = rest.slice(1);
    }
  } else {
    const colon = value.indexOf(':');
    hostPart = colon < 0 ? value : value.slice(0, colon);
    portPart = colon < 0 ? undefined : value.slice(colon + 1);
  }
  const hostname = hostPart.startsWith('[') ? ipv6(hostPart.slice(1, -1)) : name(hostPart.toLowerCase());
  if (hostname === undefined) return undefined;
  if (portPart === undefined) return Object.freeze({ hostname, port: undefined });
  if (!DIGITS.test(portPart) || Number(portPart) > 65_535) return undefined;
  return Object.freeze({ hostname, port: Number(portPart) });
}

/** `hostname` or `hostname:port`, the form allow-list entries are kept in. */
export function formatHost(h: ParsedHost): string {
  return h.port === undefined ? h.hostname : `${h.hostname}:${h.port}`;
}

/**
 * Whether a parsed host is on an allow-list of formatted entries: an entry without a port allows
 * the name on any port, one with a port only that port.
 */
export function isAllowedHost(h: ParsedHost, allowed: readonly string[]): boolean {
  return allowed.includes(h.hostname) || (h.port !== undefined && allowed.includes(formatHost(h)));
}

/**
 * Parses a comma-separated allow-list setting into formatted entries; throws naming the first
 * entry that is not a host with an optional port.
 */
export function parseHostList(setting: string, variable: string): string[] {
  return setting
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      const parsed = parseHost(entry);
      if (!parsed) throw new Error(`${variable}: "${entry}" is not a host name, IPv4 address or [IPv6] address with an optional :port`);
      return formatHost(parsed);
    });
}

/**
 * The X-Forwarded-Host entry that `hops` trusted proxies vouch for: each appends the Host it got,
 * so the entries before the last `hops` came from the client and are not believed. Undefined when
 * the header is absent or empty.
 */
export function trustedForwardedHost(value: string | undefined, hops: number): string | undefined {
  if (value === undefined || value.trim() === '' || hops < 1) return undefined;
  const entries = value.split(',').map((e) => e.trim());
  // An empty entry is returned as it is, so the caller's parse refuses it.
  return entries[Math.max(0, entries.length - hops)];
}

function name(host: string): string | undefined {
  const h = host.endsWith('.') ? host.slice(0, -1) : host;
  if (h.length === 0 || h.length > 253) return undefined;
  const labels = h.split('.');
  if (!labels.every((l) => LABEL.test(l))) return undefined;
  if (/^\d+$/.test(labels.at(-1)!)) return labels.length === 4 && labels.every((l) => OCTET.test(l)) ? h : undefined;
  return h;
}

function ipv6(address: string): string | undefined {
  // Hex digits, colons and an embedded dotted quad only: no zone identifier, no IPvFuture.
  if (!/^[0-9a-fA-F:.]{2,45}$/.test(address)) return undefined;
  try {
    // The WHATWG parser validates the address and gives its one canonical (compressed) spelling.
    return new URL(`http://[${address}]/`).hostname;
  } catch {
    return undefined;
  }
}
