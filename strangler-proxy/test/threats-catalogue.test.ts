import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * THREATS.md names, for each attack, the test that pins the proxy's answer. A renamed or deleted
 * test would leave the catalogue pointing at nothing; these checks fail first.
 */
const ROOT = path.resolve(import.meta.dirname, '../..');
const CATALOGUE = path.join(ROOT, 'strangler-proxy/THREATS.md');
const GROUPS = [
  'Framing and smuggling',
  'Header abuse',
  'Host and forwarding',
  'Path tricks',
  'Size and slowness',
  'Writes and idempotency',
  'Admin surface',
  'Secrets in logs and reports',
];

interface Row {
  id: string;
  group: string;
  attack: string;
  answer: string;
  file: string;
  test: string;
  line: number;
}

/** The catalogue's rows, from every table line that starts with a threat id. */
function parseCatalogue(text: string): { rows: Row[]; groups: string[]; problems: string[] } {
  const rows: Row[] = [];
  const groups: string[] = [];
  const problems: string[] = [];
  let group = '';
  text.split('\n').forEach((raw, i) => {
    const heading = /^## (.+)$/.exec(raw);
    if (heading) groups.push((group = heading[1]!.trim()));
    if (!/^\| T\d+ \|/.test(raw)) return;
    const cells = raw
      .split('|')
      .slice(1, -1)
      .map((c) => c.trim());
    const code = (c: string | undefined): string | undefined => /^`([^`]+)`$/.exec(c ?? '')?.[1];
    const [id, attack, answer, file, test] = [cells[0]!, cells[1] ?? '', cells[2] ?? '', code(cells[3]), code(cells[4])];
    if (cells.length !== 5 || !attack || !answer || !file || !test) {
      problems.push(
        `THREATS.md line ${i + 1} (${id}): a row needs five cells — id, attack, answer, \`file\`, \`test title\` (a "|" inside a cell splits it)`,
      );
      return;
    }
    rows.push({ id, group, attack, answer, file, test, line: i + 1 });
  });
  return { rows, groups, problems };
}

/**
 * Test titles as written in a test file's source (escapes kept, so a reader can grep for them):
 * `it('…')`, `test("…")` and `it.each(…)('…')`, but not a `.test(…)` method call.
 */
function testTitles(source: string): Set<string> {
  const titles = new Set<string>();
  const call = /(?<![.\w])(?:it|test)(?:\.(?:each|only|skip|concurrent)(?:\([\s\S]*?\))?)?\(\s*(['"`])((?:\\[\s\S]|(?!\1)[^\\])*)\1/g;
  for (const m of source.matchAll(call)) titles.add(m[2]!);
  return titles;
}

/** Each row whose file or test title does not exist, said so a reader knows what to fix. */
function missingCitations(rows: readonly Row[], read: (file: string) => string | undefined): string[] {
  const titlesOf = new Map<string, Set<string> | undefined>();
  const problems: string[] = [];
  for (const r of rows) {
    if (!titlesOf.has(r.file)) {
      const source = read(r.file);
      titlesOf.set(r.file, source === undefined ? undefined : testTitles(source));
    }
    const titles = titlesOf.get(r.file);
    if (!titles) problems.push(`${r.id} (line ${r.line}): ${r.file} does not exist (paths are relative to the repository root)`);
    else if (!titles.has(r.test))
      problems.push(`${r.id} (line ${r.line}): no test titled "${r.test}" in ${r.file}; cite the title exactly as the source writes it`);
  }
  return problems;
}

const readFromRepo = (file: string): string | undefined => {
  const full = path.join(ROOT, file);
  return fs.existsSync(full) ? fs.readFileSync(full, 'utf8') : undefined;
};

describe('the threat catalogue (THREATS.md)', () => {
  const { rows, groups, problems } = parseCatalogue(fs.readFileSync(CATALOGUE, 'utf8'));

  it('when the catalogue is read, then every row is well-formed, ids run T1, T2, … without gaps or repeats, and every group has rows', () => {
    expect(problems).toEqual([]);
    expect(rows.length).toBeGreaterThan(50);
    expect(rows.map((r) => r.id)).toEqual(rows.map((_, i) => `T${i + 1}`));
    expect(groups).toEqual(expect.arrayContaining(GROUPS));
    for (const g of GROUPS) expect(rows.filter((r) => r.group === g).length, g).toBeGreaterThan(0);
  });

  it('when a row cites a test, then that file exists and holds a test with exactly that title', () => {
    expect(missingCitations(rows, readFromRepo)).toEqual([]);
  });

  it('when a cited test is renamed or its file moved, then the check names the row and what is missing', () => {
    const row = rows.find((r) => r.id === 'T1')!;
    const renamed = missingCitations([{ ...row, test: `${row.test} (renamed)` }], readFromRepo);
    expect(renamed).toEqual([
      expect.stringMatching(/^T1 \(line \d+\): no test titled ".+ \(renamed\)" in strangler-proxy\/test\/bad-inputs\.test\.ts/),
    ]);
    const moved = missingCitations([{ ...row, file: 'strangler-proxy/test/nowhere.test.ts' }], readFromRepo);
    expect(moved).toEqual([expect.stringMatching(/^T1 \(line \d+\): strangler-proxy\/test\/nowhere\.test\.ts does not exist/)]);
  });

  it('when a test file is read, then the titles of it(), test() and it.each()() are found as written, and method calls named test are not', () => {
    const source = [
      "it('when a plain test, then found', () => {});",
      "it.each([['a', 'b'], ['c', 'd']])('when %s, then %s', () => {});",
      'test("when double quotes, then found", () => {});',
      "it('when an escaped \\'quote\\', then kept as written', () => {});",
      "expect(/x/.test('not a title')).toBe(true);",
      "describe('not a test either', () => {});",
    ].join('\n');
    expect([...testTitles(source)]).toEqual([
      'when a plain test, then found',
      'when %s, then %s',
      'when double quotes, then found',
      "when an escaped \\'quote\\', then kept as written",
    ]);
  });
});
