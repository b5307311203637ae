import { createHash } from 'node:crypto';
import { matchPath, parsePathPattern, representativePaths, type PathPattern } from '../routing/path-pattern.ts';
import { RouteTable, type CompiledRoute, type CompiledShadow, type Predicate } from '../routing/route-table.ts';
import { parseRouteTable, RouteTableError, type ConfigProblem, type ParsedRouteTable } from './load-route-table.ts';
import { compileRules } from '../shadow/compare-responses.ts';
import { parseFieldPattern } from '../shadow/field-path.ts';
import { ShadowSchema, type HeaderPredicateSpec, type RouteSpec, type ShadowSpec } from './route-table-schema.ts';

let loaded = 0;

/** The identity of a table's text (sha256, first 12 hex digits): what reloads report and switches wait for. */
export const tableHash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 12);

/** Parses, validates and compiles route table text, or throws a RouteTableError listing every problem with its line. */
export function compileRouteTable(text: string, o: { version?: number } = {}): RouteTable {
  const parsed = parseRouteTable(text);
  const { routes, problems } = compileRoutes(parsed);
  if (problems.length) throw new RouteTableError(problems);
  return new RouteTable({
    routes,
    upstreams: new Map(Object.entries(parsed.source.upstreams)),
    defaultUpstream: parsed.source.default,
    hash: tableHash(text),
    // A shared store's revision when the table came from one, so every proxy of a fleet names it alike.
    version: o.version ?? ++loaded,
  });
}

function compileRoutes({ source, lineOf }: ParsedRouteTable): { routes: CompiledRoute[]; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const problem = (path: (string | number)[], message: string): void => {
    problems.push({ line: lineOf(path), path: path.join('.'), message });
  };
  const upstreams = new Set(Object.keys(source.upstreams));
  const knownUpstream = (path: (string | number)[], name: string): void => {
    if (!upstreams.has(name)) problem(path, `unknown upstream "${name}"; known: ${[...upstreams].join(', ')}`);
  };
  knownUpstream(['default'], source.default);

  for (const [name, group] of Object.entries(source.groups)) {
    checkModeFields(['groups', name], group, problem, knownUpstream);
    if (!source.routes.some((r) => r.group === name)) problem(['groups', name], `group "${name}" has no routes`);
  }

  const routes: CompiledRoute[] = [];
  const names = new Set<string>();
  source.routes.forEach((spec, index) => {
    const at = ['routes', index];
    if (names.has(spec.name)) problem([...at, 'name'], `route name "${spec.name}" is used twice`);
    names.add(spec.name);

    let path: PathPattern | undefined;
    try {
      path = parsePathPattern(spec.match.path);
    } catch (err) {
      problem([...at, 'match', 'path'], (err as Error).message);
    }

    const group = spec.group ? source.groups[spec.group] : undefined;
    if (spec.group && !group) problem([...at, 'group'], `unknown group "${spec.group}"; declare it under groups:`);
    if (spec.group && (spec.mode !== undefined || spec.target !== undefined || spec.weight !== undefined || spec.frozen !== undefined)) {
      problem(
        [...at],
        `route "${spec.name}" belongs to group "${spec.group}": set mode, target, weight and frozen on the group, not the route`,
      );
    }
    const fields = group ?? spec;
    if (!spec.group) {
      if (!spec.mode) problem([...at, 'mode'], 'is required (monolith, shadow, canary or service) unless the route is in a group');
      else checkModeFields(at, spec, problem, knownUpstream);
    }
    const shadowSpec = spec.shadow ?? group?.shadow;
    const shadowAt = spec.shadow ? [...at, 'shadow'] : ['groups', spec.group ?? '', 'shadow'];
    const shadow = shadowSpec ? compileShadow(shadowSpec, shadowAt, problem, fields.target) : undefined;
    if (!path || !fields.mode) return;
    routes.push({
      name: spec.name,
      group: spec.group ?? spec.name,
      index,
      line: lineOf(at),
      methods: spec.match.methods ? new Set(spec.match.methods) : undefined,
      path,
      headers: predicates(spec.match.headers, 'header', (n) => n.toLowerCase()),
      cookies: predicates(spec.match.cookies, 'cookie', (n) => n),
      mode: fields.mode,
      service: fields.target,
      weight: fields.mode === 'canary' ? fields.weight! : fields.mode === 'service' ? 100 : 0,
      frozen: fields.frozen ?? false,
      shadow: fields.mode === 'shadow' ? (shadow ?? compileShadow(ShadowSchema.parse({}), shadowAt, problem, fields.target)) : shadow,
    });
  });

  // A rule that an earlier rule always wins over can never be reached: almost surely a mistake.
  routes.forEach((later, i) => {
    const earlier = routes.slice(0, i).find((e) => covers(e, later));
    if (earlier) {
      problems.push({
        line: later.line,
        path: `routes.${later.index}`,
        message: `route "${later.name}" can never match: route "${earlier.name}" (line ${earlier.line}) matches every request it would; move it above or narrow "${earlier.name}"`,
      });
    }
  });
  return { routes, problems };
}

type ModeFields = Pick<RouteSpec, 'mode' | 'target' | 'weight'>;

function checkModeFields(
  at: (string | number)[],
  f: ModeFields,
  problem: (path: (string | number)[], message: string) => void,
  knownUpstream: (path: (string | number)[], name: string) => void,
): void {
  if (f.mode === 'canary' || f.mode === 'service' || f.mode === 'shadow') {
    if (!f.target) problem([...at, 'target'], `is required in ${f.mode} mode: the upstream that serves the route`);
    else knownUpstream([...at, 'target'], f.target);
  }
  if (f.mode === 'canary') {
    if (f.weight === undefined) problem([...at, 'weight'], 'is required in canary mode: the percent of users sent to the target');
    else if (Math.round(f.weight * 100) !== f.weight * 100) problem([...at, 'weight'], 'has at most two decimals (0.01 % steps)');
  } else if (f.weight !== undefined) {
    problem([...at, 'weight'], `only applies in canary mode, not ${f.mode}`);
  }
}

/** The shadow options compiled: every field pattern parsed, a malformed one reported at its line. */
function compileShadow(
  spec: ShadowSpec,
  at: (string | number)[],
  problem: (path: (string | number)[], message: string) => void,
  target: string | undefined,
): CompiledShadow | undefined {
  const patterns = (field: 'ignore' | 'tolerance' | 'sets', sources: string[]): boolean => {
    let ok = true;
    sources.forEach((source, i) => {
      if (field !== 'ignore' && source === '*') return;
      try {
        parseFieldPattern(source);
      } catch (err) {
        ok = false;
        problem([...at, field, field === 'ignore' ? i : source], (err as Error).message);
      }
    });
    return ok;
  };
  const valid = [
    patterns('ignore', spec.ignore),
    patterns('tolerance', Object.keys(spec.tolerance)),
    patterns('sets', Object.keys(spec.sets)),
  ].every(Boolean);
  if (!valid) return undefined;
  return {
    sampleRate: spec.sampleRate,
    writes: spec.writes,
    timeoutMs: spec.timeoutMs,
    rules: compileRules(spec),
    compareSpec: {
      ignore: spec.ignore,
      headers: spec.headers,
      tolerance: spec.tolerance,
      sets: spec.sets,
      timestampToleranceMs: spec.timestampToleranceMs,
    },
    noise: { sampleRate: spec.noise.sampleRate, relative: spec.noise.relativeThreshold, absolute: spec.noise.absoluteThreshold },
    gate: spec.gate,
    freshness: { service: spec.freshness.service ?? target, waitMs: spec.freshness.waitMs, retries: spec.freshness.retries },
  };
}

function predicates(specs: Record<string, HeaderPredicateSpec> | undefined, kind: string, key: (n: string) => string): Predicate[] {
  return Object.entries(specs ?? {}).map(([rawName, spec]) => {
    const name = key(rawName);
    if (typeof spec === 'string') return { name, test: (v) => v === spec, describe: `${kind} ${rawName} = ${spec}` };
    if ('present' in spec)
      return {
        name,
        test: (v) => (v !== undefined) === spec.present,
        describe: `${kind} ${rawName} ${spec.present ? 'present' : 'absent'}`,
      };
    const re = new RegExp(spec.regex);
    return { name, test: (v) => v !== undefined && re.test(v), describe: `${kind} ${rawName} ~ /${spec.regex}/` };
  });
}

/** Whether `a` matches every request `b` matches (only when `a` has no header or cookie condition). */
function covers(a: CompiledRoute, b: CompiledRoute): boolean {
  if (a.headers.length || a.cookies.length) return false;
  if (a.methods && (!b.methods || [...b.methods].some((m) => !a.methods!.has(m)))) return false;
  return representativePaths(b.path).every((p) => matchPath(a.path, p));
}
