import type { FieldDifference } from '../shadow/compare-responses.ts';
import type { RouteReport } from '../shadow/shadow-report.ts';
import type { ShadowExample } from '../shadow/shadow-store.ts';

/** Escapes text for HTML content and attribute values. */
export function esc(s: unknown): string {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const pct = (r: number): string => `${(Math.round(r * 10_000) / 100).toFixed(2)} %`;
const ms = (n: number): string => `${n} ms`;

// A log-out button on every page behind the login (a form: logging out changes state, so never a link).
const LOGOUT = '<form class="logout" method="post" action="/__strangler/logout"><button type="submit">Log out</button></form>';

function page(title: string, body: string, loggedIn = true): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)} — strangler</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="stylesheet" href="/__strangler/report.css"></head>
<body><header><a href="/__strangler/">strangler</a> · shadow traffic${loggedIn ? LOGOUT : ''}</header><main>${body}</main></body></html>`;
}

/** A shadowed route whose copies this proxy is not sending now: its target's shadow breaker is not closed. */
export interface PausedCopies {
  target: string;
  breaker: 'open' | 'half-open';
  probeEveryMs: number;
}

function pausedNotice(p: PausedCopies | undefined): string {
  if (!p) return '';
  return `<p class="paused" role="status">Copies to <code>${esc(p.target)}</code> are paused on this proxy: they got no answer, and its shadow breaker is ${p.breaker === 'open' ? 'open' : 'half-open, one probe out'}; one probe every ${(p.probeEveryMs / 1000).toFixed(0)} s until one is answered (<code>dropped_target_down</code> counts the copies not sent). Samples stop growing meanwhile.</p>`;
}

/** `/__strangler/`: a card per shadowed route: samples, match rates, latency, readiness. */
export function overviewPage(
  routes: readonly RouteReport[],
  o: { since: string; store: string; paused?: ReadonlyMap<string, PausedCopies> },
): string {
  const cards = routes.map(
    (r) => `<article class="card ${r.readiness.ready ? 'ready' : 'not-ready'}" aria-label="Route ${esc(r.route)}">
  <h2><a href="/__strangler/shadow/${encodeURIComponent(r.route)}">${esc(r.route)}</a></h2>${pausedNotice(o.paused?.get(r.route))}
  <p class="score" aria-label="Readiness">${esc(r.readiness.score)}<small>/100 — ${r.readiness.ready ? 'ready' : 'not ready'} (${esc(r.readiness.why)})</small></p>
  <dl>
    <dt>Samples</dt><dd>${r.samples}</dd>
    <dt>Stale (data not caught up; left out)</dt><dd>${r.stale} stale</dd>
    <dt>Match rate, all samples</dt><dd>${pct(r.rawMatchRate)}</dd>
    <dt>Match rate, stale left out, noise cancelled</dt><dd>${pct(r.adjustedMatchRate)}</dd>
    <dt>Mismatch rate, noise cancelled</dt><dd>${pct(r.adjustedMismatchRate)}</dd>
    <dt>p50 / p99 monolith</dt><dd>${ms(r.monolith.p50Ms)} / ${ms(r.monolith.p99Ms)}</dd>
    <dt>p50 / p99 service</dt><dd>${ms(r.service.p50Ms)} / ${ms(r.service.p99Ms)}</dd>
    <dt>Errors monolith / service</dt><dd>${pct(r.monolith.errorRate)} / ${pct(r.service.errorRate)}</dd>
  </dl>
  <p>${r.fields.filter((f) => f.reported).length} fields differ; ${r.fields.filter((f) => !f.reported).length} are noise.</p>
</article>`,
  );
  return page(
    'Shadow traffic',
    `<h1>Shadow traffic</h1><p class="meta">Since ${esc(o.since)} · results in ${esc(o.store)}</p>
${cards.length ? `<section class="cards">${cards.join('\n')}</section>` : '<p>No shadowed route has been sampled yet: put a route in <code>mode: shadow</code>.</p>'}`,
  );
}

/** `/__strangler/shadow/<route>`: the fields that differed, the templates, and the stored examples. */
export function routePage(r: RouteReport, examples: readonly ShadowExample[], paused?: PausedCopies): string {
  const rows = r.fields.map((f) => {
    const example = examples.find((e) => e.field === f.field && e.template === f.template) ?? examples.find((e) => e.field === f.field);
    return `<tr class="${f.reported ? 'reported' : 'noise'}"><th scope="row"><code>${esc(f.field)}</code></th><td>${esc(f.template)}</td><td>${f.reported ? 'differs' : 'noise'}</td>
  <td>${pct(f.diffRate)}</td><td>${pct(f.noiseRate)}</td><td>${example ? `<a href="/__strangler/shadow/${encodeURIComponent(r.route)}/examples/${example.id}">example</a>` : '—'}</td></tr>`;
  });
  const templates = r.templates.map(
    (t) =>
      `<tr><th scope="row"><code>${esc(t.template)}</code></th><td>${t.samples}</td><td>${t.stale}</td><td>${pct(t.rawMatchRate)}</td><td>${pct(t.adjustedMismatchRate)}</td></tr>`,
  );
  return page(
    r.route,
    `<h1>Route ${esc(r.route)}</h1>
<p class="meta">${r.samples} samples · ${r.stale} stale · match ${pct(r.rawMatchRate)} (${pct(r.adjustedMatchRate)} stale left out) · mismatch with noise cancelled ${pct(r.adjustedMismatchRate)} · readiness ${esc(r.readiness.score)} (${esc(r.readiness.why)})</p>${pausedNotice(paused)}
<h2>Fields that differed</h2>
${rows.length ? `<table aria-label="Fields"><thead><tr><th>field</th><th>path template</th><th>verdict</th><th>service vs monolith</th><th>monolith vs itself</th><th></th></tr></thead><tbody>${rows.join('\n')}</tbody></table>` : '<p>None: every answer matched.</p>'}
<h2>Path templates</h2>
<table aria-label="Path templates"><thead><tr><th>template</th><th>samples</th><th>stale</th><th>match</th><th>mismatch, noise cancelled</th></tr></thead><tbody>${templates.join('\n')}</tbody></table>`,
  );
}

/** One line of a side-by-side view: the same on both sides, or only on one. */
type Line = { kind: 'same' | 'monolith' | 'service'; text: string };

/** A line diff (longest common subsequence) of two texts, for the side-by-side view. */
export function lineDiff(a: string, b: string): Line[] {
  const x = a.split('\n').slice(0, 1_000);
  const y = b.split('\n').slice(0, 1_000);
  const lcs: number[][] = Array.from({ length: x.length + 1 }, () => new Array<number>(y.length + 1).fill(0));
  for (let i = x.length - 1; i >= 0; i--)
    for (let j = y.length - 1; j >= 0; j--)
      lcs[i]![j] = x[i] === y[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
  const out: Line[] = [];
  let i = 0;
  let j = 0;
  while (i < x.length || j < y.length) {
    if (i < x.length && j < y.length && x[i] === y[j]) {
      out.push({ kind: 'same', text: x[i++]! });
      j++;
    } else if (i < x.length && (j === y.length || lcs[i + 1]![j]! >= lcs[i]![j + 1]!)) out.push({ kind: 'monolith', text: x[i++]! });
    else out.push({ kind: 'service', text: y[j++]! });
  }
  return out;
}

const shown = (v: unknown): string => (v === undefined ? '—' : typeof v === 'string' ? v : JSON.stringify(v));

/** `/__strangler/shadow/<route>/examples/<id>`: the request, the differences, both answers side by side. */
export function examplePage(e: ShadowExample): string {
  const diffs = e.differences.map(
    (d: FieldDifference) =>
      `<tr><th scope="row"><code>${esc(d.path)}</code></th><td>${esc(d.kind)}</td><td><code>${esc(shown(d.a))}</code></td><td><code>${esc(shown(d.b))}</code></td></tr>`,
  );
  const lines = lineDiff(e.monolith.body, e.service.error ? `(no answer: ${e.service.error})` : e.service.body);
  const cell = (l: Line, side: 'monolith' | 'service'): string =>
    l.kind === 'same' ? `<td>${esc(l.text)}</td>` : l.kind === side ? `<td class="changed">${esc(l.text)}</td>` : '<td class="gap"></td>';
  return page(
    `${e.route} example`,
    `<h1>${esc(e.request.method)} <code>${esc(e.request.path)}</code></h1>
<p class="meta">Route <a href="/__strangler/shadow/${encodeURIComponent(e.route)}">${esc(e.route)}</a> · template <code>${esc(e.template)}</code> · ${esc(e.at)} · secrets redacted</p>
<h2>Differences</h2>
<table aria-label="Differences"><thead><tr><th>path</th><th>kind</th><th>monolith</th><th>service</th></tr></thead><tbody>${diffs.join('\n')}</tbody></table>
<h2>Answers side by side</h2>
<table class="side-by-side" aria-label="Answers side by side"><thead><tr><th>monolith — ${esc(e.monolith.status)}, ${esc(e.monolith.ms)} ms</th><th>service — ${esc(e.service.status ?? 'no answer')}, ${esc(e.service.ms)} ms</th></tr></thead>
<tbody>${lines.map((l) => `<tr>${cell(l, 'monolith')}${cell(l, 'service')}</tr>`).join('\n')}</tbody></table>`,
  );
}

export const REPORT_CSS = `body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{background:#3b2416;color:#fff;padding:.6rem 1.2rem}header a{color:#fff;font-weight:600;text-decoration:none}
main{padding:1rem 1.2rem;max-width:1400px}h1{font-size:1.4rem}.meta{color:#555}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:1rem}
.card{background:#fff;border:1px solid #ddd;border-left:6px solid #c0392b;border-radius:6px;padding:.8rem 1rem}.card.ready{border-left-color:#27ae60}
.card h2{margin:.1rem 0;font-size:1.15rem}.paused{background:#fff4d6;border:1px solid #e0b44c;border-radius:4px;padding:.4rem .6rem}.score{font-size:2rem;margin:.2rem 0}.score small{font-size:.8rem;color:#555}
dl{display:grid;grid-template-columns:auto auto;gap:.15rem .8rem;margin:.4rem 0}dt{color:#555}dd{margin:0;text-align:right;font-variant-numeric:tabular-nums}
table{border-collapse:collapse;width:100%;background:#fff;margin-bottom:1rem}th,td{border:1px solid #e3e3e3;padding:.25rem .5rem;text-align:left;vertical-align:top}
tr.noise{color:#888}.side-by-side td{font:12px/1.35 ui-monospace,monospace;white-space:pre-wrap;width:50%}
td.changed{background:#fde2e1}td.gap{background:#f3f3f3}code{font-family:ui-monospace,monospace}`;

/** `/__strangler/login`, and what a page behind the login shows without a session: the token, posted back to the listener. */
export function loginPage(o: { next: string; error?: string }): string {
  return page(
    'Log in',
    `<h1>Log in</h1>
<p class="meta">The report shows examples of real traffic: it needs the proxy’s admin token (<code>ADMIN_TOKEN</code>). Tools send it as <code>Authorization: Bearer &lt;ADMIN_TOKEN&gt;</code> instead.</p>
${o.error ? `<p class="error" role="alert">${esc(o.error)}</p>` : ''}<form method="post" action="/__strangler/login" class="login">
<label for="token">Admin token</label> <input id="token" name="token" type="password" autocomplete="current-password" required>
<input type="hidden" name="next" value="${esc(o.next)}">
<button type="submit">Log in</button>
</form>`,
    false,
  );
}

/** Styles of the login form and the log-out button, served after REPORT_CSS. */
export const LOGIN_CSS = `header .logout{float:right;margin:0}header .logout button{background:none;border:1px solid #fff;color:#fff;border-radius:4px;cursor:pointer}
form.login{display:flex;gap:.5rem;align-items:center;flex-wrap:wrap}.error{color:#c0392b;font-weight:600}`;
