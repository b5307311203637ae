import type { IncomingMessage } from 'node:http';
import type { ProxyConfig } from '../config/proxy-config.ts';
import type { ProxyErrorCode } from '../errors.ts';
import { DRY_RUN_HEADER } from '../shadow/dry-run-mark.ts';
import { isAllowedHost, parseHost, trustedForwardedHost } from './host-header.ts';

export interface Rejection {
  code: ProxyErrorCode;
  message?: string;
  /** Close the connection after answering: the request's framing cannot be trusted. */
  close?: boolean;
}

export interface HardeningStep {
  name: string;
  check(req: IncomingMessage, config: ProxyConfig, count: HeaderCount): Rejection | undefined;
}

/**
 * How many times each header name occurs (rawHeaders keeps the duplicates that req.headers merges),
 * made once per request and shared by the steps. A request that repeats no name — nearly all:
 * req.headers then has a key per raw header — is answered from req.headers, nothing counted.
 */
export type HeaderCount = (name: string) => number;
function headerCount(req: IncomingMessage): HeaderCount {
  if (Object.keys(req.headers).length * 2 === req.rawHeaders.length) return (name) => (req.headers[name] === undefined ? 0 : 1);
  const c = new Map<string, number>();
  for (let i = 0; i < req.rawHeaders.length; i += 2) {
    const n = req.rawHeaders[i]!.toLowerCase();
    c.set(n, (c.get(n) ?? 0) + 1);
  }
  return (name) => c.get(name) ?? 0;
}

/**
 * The Host, and with trusted hops the X-Forwarded-Host passed on upstream: malformed → 400, a
 * well-formed host not served → 421. Apps build links and redirects from these, so neither may be
 * anything but an allowed host.
 */
function checkHosts(req: IncomingMessage, c: ProxyConfig): Rejection | undefined {
  const host = req.headers.host;
  if (host !== undefined) {
    const parsed = parseHost(host);
    if (!parsed)
      return {
        code: 'invalid_host',
        message: 'the Host header must be a host name, IPv4 address or [IPv6] address with an optional :port (0–65535), and nothing else',
      };
    if (!isAllowedHost(parsed, c.allowedHosts)) return { code: 'misdirected_request' };
  }
  const forwarded = trustedForwardedHost(req.headers['x-forwarded-host'] as string | undefined, c.trustedProxyHops);
  if (forwarded !== undefined) {
    const parsed = parseHost(forwarded);
    if (!parsed)
      return {
        code: 'invalid_host',
        message: 'X-Forwarded-Host must be a host name, IPv4 address or [IPv6] address with an optional :port (0–65535), and nothing else',
      };
    if (!isAllowedHost(parsed, c.allowedHosts))
      return {
        code: 'misdirected_request',
        message: 'The X-Forwarded-Host is not served here: add it to ALLOWED_HOSTS if the proxy in front is right to send it.',
      };
  }
  return undefined;
}

/** Request fields whose grammar is one value (RFC 9110), plus the proxy's own. */
const SINGLETON_HEADERS = [
  'authorization',
  'proxy-authorization',
  'content-type',
  'origin',
  'referer',
  'range',
  'if-range',
  'if-modified-since',
  'if-unmodified-since',
  'max-forwards',
  'x-strangler-preview',
  'x-strangler-token',
  DRY_RUN_HEADER,
];

/**
 * The checks every request passes before routing, in order; the first that fails answers. Node's
 * parser already refuses several of these inputs; each step pins the behaviour anyway, so that a
 * Node upgrade or a parser flag cannot reopen it.
 */
export const HARDENING_STEPS: readonly HardeningStep[] = [
  /** Only HTTP/1.0 and 1.1 are spoken on this listener (`HTTP/2.0` on the request line is refused). */
  {
    name: 'http-version',
    check: (req) =>
      req.httpVersionMajor === 1 && req.httpVersionMinor <= 1
        ? undefined
        : { code: 'bad_request', message: `HTTP/${req.httpVersion} is not supported here`, close: true },
  },
  /** RFC 9112 §3.2: only origin-form targets; absolute-form would let the client pick the host. */
  {
    name: 'origin-form',
    check: (req) =>
      req.url?.startsWith('/')
        ? undefined
        : { code: 'bad_request', message: 'the request target must be a path (origin-form)', close: true },
  },
  /** A target longer than the limit gets 414 before it is parsed or routed. */
  {
    name: 'url-length',
    check: (req, c) => ((req.url?.length ?? 0) > c.limits.maxUrlBytes ? { code: 'uri_too_long', close: true } : undefined),
  },
  /** Node truncates past maxHeadersCount instead of refusing; the server keeps one extra to notice. */
  {
    name: 'header-count',
    check: (req, c) =>
      req.rawHeaders.length / 2 > c.limits.maxHeaders ? { code: 'request_header_fields_too_large', close: true } : undefined,
  },
  /** RFC 9112 §3.2: exactly one Host in HTTP/1.1. */
  {
    name: 'single-host',
    check: (req, _c, count) => {
      const n = count('host');
      if (n > 1) return { code: 'bad_request', message: 'send exactly one Host header', close: true };
      if (n === 0 && req.httpVersionMinor === 1) return { code: 'bad_request', message: 'HTTP/1.1 requires a Host header', close: true };
      return undefined;
    },
  },
  /**
   * RFC 9110 §5.3: a field defined as a single value may not repeat. Joined, two of them make a value
   * neither sender meant (`Bearer a, Bearer b`), and the upstream and the proxy may each pick a
   * different one; refuse instead. (Host, Content-Length and Idempotency-Key have steps of their own.)
   */
  {
    name: 'singleton-headers',
    check: (req, _c, count) => {
      for (const name of SINGLETON_HEADERS) if (count(name) > 1) return { code: 'bad_request', message: `send at most one ${name} header` };
      return undefined;
    },
  },
  /** RFC 9110 §7.2: a Host we do not serve, or one that is not just a host, is never used for routing, redirects or links. */
  { name: 'allowed-host', check: checkHosts },
  /**
   * RFC 9112 §6.1, §6.3: one unambiguous body length — never Content-Length with Transfer-Encoding,
   * one Content-Length with one value, chunked as the only coding, no Transfer-Encoding on HTTP/1.0.
   */
  {
    name: 'message-framing',
    check: (req, _c, count) => {
      const te = count('transfer-encoding');
      const cl = count('content-length');
      if (te > 1) return { code: 'bad_request', message: 'send at most one Transfer-Encoding header', close: true };
      if (te === 1 && req.httpVersionMinor === 0) return { code: 'bad_request', message: 'HTTP/1.0 has no Transfer-Encoding', close: true };
      if (te === 1 && req.headers['transfer-encoding']!.trim().toLowerCase() !== 'chunked') {
        return { code: 'bad_request', message: 'the only Transfer-Encoding accepted is chunked', close: true };
      }
      if (te === 1 && cl > 0) return { code: 'bad_request', message: 'send Content-Length or Transfer-Encoding, not both', close: true };
      if (cl > 1 || (cl === 1 && !/^\d{1,15}$/.test(req.headers['content-length']!))) {
        return { code: 'bad_request', message: 'send one Content-Length with a single decimal value', close: true };
      }
      return undefined;
    },
  },
  /** No NUL or control characters in header values (tab is allowed). */
  {
    name: 'header-values',
    check: (req) => {
      for (let i = 1; i < req.rawHeaders.length; i += 2) {
        // eslint-disable-next-line no-control-regex
        if (/[\x00-\x08\x0a-\x1f\x7f]/.test(req.rawHeaders[i]!))
          return { code: 'bad_request', message: 'a header value holds a control character', close: true };
      }
      return undefined;
    },
  },
  /** One well-formed Idempotency-Key at most: two keys would be merged into one by anything downstream. */
  {
    name: 'idempotency-key',
    check: (req, _c, count) => {
      const n = count('idempotency-key');
      if (n === 0) return undefined;
      if (n > 1 || !/^[\x21-\x7e]{1,255}$/.test(req.headers['idempotency-key'] as string)) return { code: 'invalid_idempotency_key' };
      return undefined;
    },
  },
  /** Refuse by the declared length before reading a byte of the body. */
  {
    name: 'declared-body-size',
    check: (req, c) =>
      Number(req.headers['content-length'] ?? 0) > c.limits.maxBodyBytes
        ? { code: 'payload_too_large', message: `the body must be at most ${c.limits.maxBodyBytes} bytes`, close: true }
        : undefined,
  },
];

/** The first rejection of the chain, or undefined when the request may proceed. */
export function harden(
  req: IncomingMessage,
  config: ProxyConfig,
  steps: readonly HardeningStep[] = HARDENING_STEPS,
): (Rejection & { step: string }) | undefined {
  const count = headerCount(req);
  for (const step of steps) {
    const r = step.check(req, config, count);
    if (r) return { ...r, step: step.name };
  }
  return undefined;
}
