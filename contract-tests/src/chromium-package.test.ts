import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unpackPackagedChromium } from './chromium-package.ts';
import { launchChromium } from './chromium.ts';
import { resolveChromium, type ResolvedChromium } from './chromium-resolve.ts';

// The packaged build is forced (no CHROMIUM_PATH, no system paths) so that this runs it even on a
// machine that has Debian's Chromium and so never reaches it otherwise; unpacked afresh, twice at
// once, as two test workers would on a machine that never had it.
let server: http.Server;
let baseUrl: string;
let root: string;
let packaged: ResolvedChromium | undefined;
let twin: ResolvedChromium | undefined;
beforeAll(async () => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'chromium-package-test-'));
  server = http.createServer((_req, res) => {
    res.setHeader('content-type', 'text/html');
    res.end("<!doctype html><button onclick=\"document.querySelector('output').textContent = 'clicked'\">Go</button><output></output>");
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  const forced = { env: { CHROMIUM_SYSTEM_PATHS: '' }, packaged: () => unpackPackagedChromium(root) };
  [packaged, twin] = await Promise.all([resolveChromium(forced), resolveChromium(forced)]);
}, 60_000);
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  fs.rmSync(root, { recursive: true, force: true });
});

describe('the Chromium in @sparticuz/chromium', () => {
  it('when no other Chromium is allowed, then the packaged one is unpacked into a versioned directory with its libraries and fonts, once however many ask at once', () => {
    expect(packaged?.source).toBe('package');
    const dir = packaged!.executablePath.replace(/\/chromium$/, '');
    expect(dir).toMatch(/\/strangler-chromium-\d+\.\d+\.\d+$/);
    expect(twin).toEqual(packaged);
    expect(fs.readdirSync(root), 'no half-unpacked directory left behind').toEqual([path.basename(dir)]);
    fs.accessSync(packaged!.executablePath, fs.constants.X_OK);
    for (const lib of ['libnss3.so', 'libnspr4.so', 'libexpat.so.1']) expect(fs.existsSync(`${dir}/lib/${lib}`), lib).toBe(true);
    expect(packaged!.env.LD_LIBRARY_PATH?.split(':')[0]).toBe(`${dir}/lib`);
    expect(fs.readFileSync(`${dir}/fonts.conf`, 'utf8')).toContain(`<dir>${dir}/fonts</dir>`);
  });

  it('when launched through playwright-core with our flags, then it opens a page on 127.0.0.1, a click runs its script, and text has a font', async () => {
    const browser = await launchChromium(packaged);
    try {
      const page = await browser.newPage();
      await page.goto(baseUrl);
      await page.getByRole('button', { name: 'Go' }).click();
      expect(await page.locator('output').textContent()).toBe('clicked');
      // Zero width would mean fontconfig found no font: the mermaid diagram's labels would collapse.
      const width = await page.evaluate(() => {
        const ctx = document.createElement('canvas').getContext('2d')!;
        ctx.font = '16px sans-serif';
        return ctx.measureText('Public ALB').width;
      });
      expect(width).toBeGreaterThan(40);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
