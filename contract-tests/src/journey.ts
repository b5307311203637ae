import fs from 'node:fs/promises';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { launchChromium } from './chromium.ts';
import type { Preset } from '@strangler/reference-migration';
import { previewHeaders } from './deployment.ts';
import { journeyTarget, type JourneyTarget } from './target.ts';

export interface JourneyContext {
  baseUrl: string;
  page: Page;
}

const RESULTS_DIR = path.resolve(import.meta.dirname, '../../test-results');

/**
 * Registers hooks (in the enclosing describe) that give each test a fresh browser context (no
 * cookies carried over) on one Chromium, against a system with the route table in `preset`'s
 * state; a failing test leaves a full-page screenshot in test-results/.
 */
export function useJourney(preset: Preset): JourneyContext {
  const ctx = {} as JourneyContext;
  let target: JourneyTarget;
  let browser: Browser;
  let context: BrowserContext;
  const consoleErrors: string[] = [];

  beforeAll(async () => {
    [target, browser] = await Promise.all([journeyTarget(preset), launchChromium()]);
    ctx.baseUrl = target.baseUrl;
  });
  afterAll(async () => {
    await browser?.close();
    await target?.close();
  });
  beforeEach(async () => {
    context = await browser.newContext({ baseURL: target.baseUrl, extraHTTPHeaders: previewHeaders() });
    context.setDefaultTimeout(10_000);
    ctx.page = await context.newPage();
    consoleErrors.length = 0;
    ctx.page.on('pageerror', (err) => consoleErrors.push(err.message));
  });
  afterEach(async (test) => {
    if (test.task.result?.state === 'fail') {
      await fs.mkdir(RESULTS_DIR, { recursive: true });
      const name = `${preset}-${test.task.name}`.replace(/[^a-z0-9]+/gi, '-').slice(0, 80);
      await ctx.page.screenshot({ path: path.join(RESULTS_DIR, `${name}.png`), fullPage: true }).catch(() => {});
    }
    await context?.close();
    // A script error on any page is a broken page, even when the journey happened to pass.
    if (consoleErrors.length) throw new Error(`page errors: ${consoleErrors.join('; ')}`);
  });
  return ctx;
}
