import type { IncomingMessage } from 'node:http';
import type { Mode } from '../config/route-table-schema.ts';
import type { ProxyErrorCode } from '../errors.ts';
import { isAdminToken } from '../admin/admin-token.ts';
import { isSafeMethod } from '../resilience/upstream-failure.ts';
import { normalizePath, type NormalizedPath } from '../routing/normalize-path.ts';
import type { RouteDecision, RouteTable } from '../routing/route-table.ts';
import { harden } from './hardening.ts';
import type { HandlerDeps } from './handler-deps.ts';
import { parseCookies } from '@strangler/service-kit/cookies';
import { UserKey } from './user-key.ts';

/**
 * The path prefix of the admin API; never forwarded, whatever the route table says. Checked per
 * request, so a second request pipelined on the same connection is routed and authorised on its own.
 */
export const ADMIN_PREFIX = '__strangler';
const PREVIEW_HEADER = 'x-strangler-preview';
const TOKEN_HEADER = 'x-strangler-token';

/** A request the proxy will forward, and everything routing decided about it. */
export interface Admitted {
  ok: true;
  method: string;
  /** The table it was routed by: the one it finishes on, whatever a reload does meanwhile. */
  table: RouteTable;
  path: Extract<NormalizedPath, { ok: true }>;
  /** Path and query as forwarded (the normalised path, the query untouched). */
  target: string;
  decision: RouteDecision;
  /** The route's name for metrics and logs (`default` when none matched). */
  routeName: string;
  mode: Mode | 'default';
  /** A valid preview request: forced to the upstream it names, never falling back, never mirrored. */
  previewing: boolean;
  /** The canary and idempotency key of the user (a new visitor's uid made when first asked for). */
  user: UserKey;
}

/** Why a request is answered by the proxy itself. */
export interface Refusal {
  ok: false;
  code: ProxyErrorCode;
  message?: string | undefined;
  close?: boolean | undefined;
  headers?: Record<string, string>;
  /** The route it matched, when routing got that far (a frozen route's write). */
  routeName?: string;
}

/**
 * Admission, the same for a request and a WebSocket upgrade: refused while draining, hardened,
 * normalised, never an admin path, routed (with preview routing for a tester holding the admin
 * token), and refused when it would write to a frozen route.
 */
export function admitRequest(deps: HandlerDeps, req: IncomingMessage): Admitted | Refusal {
  const { config } = deps;
  if (deps.draining()) return { ok: false, code: 'shutting_down', close: true, headers: { 'retry-after': '1' } };
  const refused = harden(req, config);
  if (refused) return { ok: false, code: refused.code, message: refused.message, close: refused.close };
  const path = normalizePath(req.url!);
  if (!path.ok) return { ok: false, code: 'invalid_path', message: path.reason };
  if (path.segments[0]?.toLowerCase() === ADMIN_PREFIX)
    return { ok: false, code: 'not_found', message: 'The admin API is served on the admin port only.' };

  const method = req.method!;
  const table = deps.store.current;
  const cookies = parseCookies(req.headers.cookie);
  const user = new UserKey(cookies, config.sessionCookie);
  let decision = table.decide({ method, segments: path.segments, headers: req.headers, cookies, userKey: user });
  const wanted = previewTarget(req, table.upstreams, config.adminToken);
  // `group:<name>` previews one group: its routes go to their target (or, `group:<name>=<upstream>`,
  // to that upstream: a green deployment not yet the group's target), everything else as the table says.
  const preview =
    typeof wanted === 'object'
      ? decision.route?.group === wanted.group && decision.route.service
        ? (wanted.upstream ?? decision.route.service)
        : undefined
      : wanted;
  if (preview === 'ignored') deps.metrics.previewIgnored.inc();
  else if (preview) decision = { ...decision, upstream: preview, reason: `preview routing to ${preview}` };
  // A writer switch is moving this route's data: a write now could land on the side giving it up.
  if (decision.route?.frozen && !isSafeMethod(method))
    return { ok: false, code: 'writes_frozen', headers: { 'retry-after': '1' }, routeName: decision.route.name };
  return {
    ok: true,
    method,
    table,
    path,
    target: path.path + path.query,
    decision,
    routeName: decision.route?.name ?? 'default',
    mode: decision.mode,
    previewing: preview !== undefined && preview !== 'ignored',
    user,
  };
}

/**
 * What a preview header asks for: an upstream for every request, or `{ group, upstream? }` for one
 * group's routes; `'ignored'` for a preview header without a valid token (or naming nothing known), or undefined.
 */
function previewTarget(
  req: IncomingMessage,
  upstreams: ReadonlyMap<string, unknown>,
  adminToken: string | undefined,
): string | { group: string; upstream?: string } | 'ignored' | undefined {
  const wanted = req.headers[PREVIEW_HEADER];
  if (wanted === undefined) return undefined;
  const token = req.headers[TOKEN_HEADER];
  if (typeof wanted !== 'string' || typeof token !== 'string' || !isAdminToken(token, adminToken)) return 'ignored';
  const group = /^group:([a-z0-9][a-z0-9_-]*)(?:=(.+))?$/i.exec(wanted);
  if (group) {
    const upstream = group[2];
    if (upstream === undefined) return { group: group[1]! };
    return upstreams.has(upstream) ? { group: group[1]!, upstream } : 'ignored';
  }
  return upstreams.has(wanted) ? wanted : 'ignored';
}
