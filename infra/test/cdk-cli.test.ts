// The app as a CDK user drives it: `cdk synth` in infra/, through cdk.json, with no AWS account or
// credentials and no network, into a folder of the test's own (tools.test.ts synthesizes too).
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, it } from 'vitest';
import { buildApp } from '../src/app.ts';

const infra = path.resolve(import.meta.dirname, '..');
const cli = path.resolve(infra, '../node_modules/aws-cdk/bin/cdk');
const outdirs: string[] = [];
const tmp = (): string => {
  outdirs.push(fs.mkdtempSync(path.join(os.tmpdir(), 'strangler-cdk-cli-')));
  return outdirs.at(-1)!;
};
afterAll(() => outdirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));

const templatesIn = (dir: string): Record<string, unknown> =>
  Object.fromEntries(
    fs
      .readdirSync(dir)
      .filter((f) => f.endsWith('.template.json'))
      .map((f) => [f, JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8'))]),
  );

it('when a CDK user runs cdk synth in infra with no AWS credentials, then every stack synthesizes, cdk-nag clean, into the same templates as npm run synth', async () => {
  const outdir = tmp();
  // No account, no credentials, no metadata endpoint: any lookup would fail the run.
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    CDK_DISABLE_CLI_TELEMETRY: 'true',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/dev/null',
    AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  };
  for (const name of ['DEV_ACCOUNT', 'PROD_ACCOUNT', 'AWS_PROFILE', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN'])
    delete env[name];
  const failure = await promisify(execFile)(process.execPath, [cli, 'synth', '--quiet', '--no-notices', '--output', outdir], {
    cwd: infra,
    env,
  }).then(
    () => undefined,
    (e: { stderr?: string; message: string }) => e.stderr || e.message,
  );
  expect(failure).toBeUndefined();

  const manifest = JSON.parse(fs.readFileSync(path.join(outdir, 'manifest.json'), 'utf8'));
  expect(manifest.missing).toBeUndefined();
  const cliTemplates = templatesIn(outdir);
  expect(Object.keys(cliTemplates)).toHaveLength(10);
  // cdk.json leaves out what only the CLI adds (version reporting, path and asset metadata): what is tested is what deploys.
  const direct = tmp();
  buildApp({ outdir: direct }).app.synth();
  expect(cliTemplates).toEqual(templatesIn(direct));
}, 90_000);
