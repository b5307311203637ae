// `npm run gate:contracts [-- FILES or vitest options]`: the contract suites against a running
// deployment (E2E_BASE_URL), through preview routing when E2E_PREVIEW names a group, as a cutover's
// gate runs them; then one line saying how many ran and how many were not run, and why.
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deploymentUrl, NEEDS, previewHeaders, type Need } from './deployment.ts';

const REPO_ROOT = path.resolve(import.meta.dirname, '../..');
const VITEST = path.join(REPO_ROOT, 'node_modules/vitest/vitest.mjs');
const SUITES = 'contract-tests/contracts';

/** One line on stderr, exit 2: the gate was asked wrongly, nothing ran. */
function refuse(message: string): never {
  console.error(`gate:contracts: ${message}`);
  process.exit(2);
}

/** What vitest's json reporter writes, as far as the summary reads it. */
interface JsonReport {
  testResults: { assertionResults: { fullName: string; status: string }[] }[];
}

export interface GateSummary {
  ran: number;
  passed: number;
  failed: number;
  /** Tests not run against a deployment, by what they need. */
  notRun: Partial<Record<Need, number>>;
  /** Their full names, each ending with what it needs. */
  notRunNames: string[];
}

/** Counts a run's tests: those run, and those skipped for a need (named in the title by `notRunSuffix`). */
export function summarize(report: JsonReport): GateSummary {
  const s: GateSummary = { ran: 0, passed: 0, failed: 0, notRun: {}, notRunNames: [] };
  const needPattern = /\[not run against a deployment: needs ([^\]]+)\]/;
  for (const file of report.testResults) {
    for (const t of file.assertionResults) {
      if (t.status === 'passed' || t.status === 'failed') {
        s.ran++;
        s[t.status]++;
        continue;
      }
      const named = needPattern.exec(t.fullName);
      if (!named) continue;
      s.notRunNames.push(t.fullName);
      for (const need of Object.keys(NEEDS) as Need[]) {
        if (named[1]!.includes(`${need} (`)) s.notRun[need] = (s.notRun[need] ?? 0) + 1;
      }
    }
  }
  return s;
}

/** The URL as it may be printed: no user or password. */
function shown(url: URL): string {
  const u = new URL(url);
  u.username = '';
  u.password = '';
  return u.toString().replace(/\/$/, '');
}

async function main(): Promise<number> {
  const base = deploymentUrl();
  if (!base) refuse('E2E_BASE_URL is not set: name the deployment to gate, e.g. E2E_BASE_URL=http://127.0.0.1:8080');
  let url: URL;
  try {
    url = new URL(base);
  } catch {
    refuse('E2E_BASE_URL is not a URL: give the proxy’s address, e.g. http://127.0.0.1:8080');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') refuse(`E2E_BASE_URL must be http:// or https://, not ${url.protocol}`);
  try {
    previewHeaders();
  } catch (err) {
    refuse((err as Error).message);
  }
  const preview = process.env.E2E_PREVIEW;

  const extra = process.argv.slice(2);
  // Suite files named after `--` narrow the run; other arguments (-t NAME, --bail 1) are vitest's.
  const files = extra.some((a) => a.includes(SUITES) || a.endsWith('.test.ts')) ? [] : [SUITES];
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'gate-contracts-'));
  const reportFile = path.join(dir, 'report.json');
  try {
    const args = [
      VITEST,
      'run',
      '--project',
      'api',
      '--reporter=default',
      '--reporter=json',
      `--outputFile.json=${reportFile}`,
      ...files,
      ...extra,
    ];
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn(process.execPath, args, { cwd: REPO_ROOT, stdio: 'inherit' });
      child.on('error', reject);
      child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
    });
    let report: JsonReport;
    try {
      report = JSON.parse(await fs.readFile(reportFile, 'utf8')) as JsonReport;
    } catch {
      console.error(`gate:contracts: vitest ended (exit ${code}) without a report: nothing to count; the gate fails`);
      return code || 1;
    }
    const s = summarize(report);
    // The default reporter names no skipped test: the gate's log says which were not run, and why.
    for (const name of s.notRunNames) console.log(`gate:contracts: not run: ${name}`);
    const why = Object.entries(s.notRun)
      .map(([need, n]) => `${need} ${n}`)
      .join(', ');
    console.log(
      `gate:contracts: ${s.ran} tests ran against ${shown(url)}${preview ? ` (preview ${preview})` : ''}: ${s.passed} passed, ${s.failed} failed; ` +
        `${s.notRunNames.length} not run against a deployment${why ? ` (needing ${why})` : ''}`,
    );
    if (s.ran === 0) {
      console.error('gate:contracts: no test ran, so nothing was proven: the gate fails');
      return 1;
    }
    return code;
  } finally {
    await fs.rm(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) process.exitCode = await main();
