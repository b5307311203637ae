import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';
import { RouteTableSchema, type RouteTableSource } from './route-table-schema.ts';

/** One thing wrong with a route table: where (line, field path) and why. */
export interface ConfigProblem {
  /** 1-based line in the YAML file, when it can be located. */
  line?: number;
  /** `routes.2.weight` */
  path: string;
  message: string;
}

export class RouteTableError extends Error {
  override readonly name = 'RouteTableError';
  readonly problems: ConfigProblem[];
  constructor(problems: ConfigProblem[]) {
    super(problems.map(formatProblem).join('\n'));
    this.problems = problems;
  }
}

export function formatProblem(p: ConfigProblem): string {
  return `${p.line !== undefined ? `line ${p.line}: ` : ''}${p.path ? `${p.path}: ` : ''}${p.message}`;
}

export interface ParsedRouteTable {
  source: RouteTableSource;
  /** Line of the node at a field path, for later (semantic) problems. */
  lineOf(path: (string | number)[]): number | undefined;
}

/** Parses YAML text and validates its shape; every problem carries its line. */
export function parseRouteTable(text: string): ParsedRouteTable {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length) {
    throw new RouteTableError(
      doc.errors.map((e) => ({ line: lineCounter.linePos(e.pos[0]).line, path: '', message: `YAML: ${e.message.split('\n')[0]}` })),
    );
  }
  const lineOf = (path: (string | number)[]): number | undefined => locate(doc, lineCounter, path);
  const result = RouteTableSchema.safeParse(doc.toJS());
  if (!result.success) throw new RouteTableError(zodProblems(result.error, lineOf));
  return { source: result.data, lineOf };
}

export function zodProblems(error: z.ZodError, lineOf: ParsedRouteTable['lineOf']): ConfigProblem[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    // Point at each unknown key itself, not at the object that holds it.
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => ({
        line: lineOf([...path, key]),
        path: [...path, key].join('.'),
        message: 'is not a known field; remove it or check its spelling',
      }));
    }
    return [{ line: lineOf(path), path: path.join('.'), message: issue.message }];
  });
}

/** The line of the deepest node that exists along `path` (the data mapping loader uses it too). */
export function locate(doc: Document, lc: LineCounter, path: (string | number)[]): number | undefined {
  for (let n = path.length; n >= 0; n--) {
    const node = n === 0 ? doc.contents : doc.getIn(path.slice(0, n), true);
    if (isNode(node) && node.range) return lc.linePos(node.range[0]).line;
  }
  return undefined;
}
