import { chromium, type Browser } from 'playwright-core';
import { noChromiumError, resolveChromium, type ResolvedChromium } from './chromium-resolve.ts';

export { resolveChromium, type ResolvedChromium } from './chromium-resolve.ts';

// Without the background-networking flags Chromium keeps dialling Google's hosts, which a closed
// network refuses many times a second; --no-sandbox because CI runs as root. The packaged build
// needs nothing more: the package's --single-process and --no-zygote work around AWS Lambda's
// limits, and its other flags loosen web security, which the journeys must not.
const FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
];

// Resolved once per process: the packaged build is unpacked at most once, whoever asks first.
let resolved: Promise<ResolvedChromium | undefined> | undefined;

/** The Chromium this process launches (CHROMIUM_PATH, else the system's, else the packaged one); undefined when none. */
export function findChromium(): Promise<ResolvedChromium | undefined> {
  resolved ??= resolveChromium();
  return resolved;
}

/** Launches `which` (default: `findChromium()`) headless through playwright-core with the flags this network needs. */
export async function launchChromium(which?: ResolvedChromium): Promise<Browser> {
  const browser = which ?? (await findChromium());
  if (!browser) throw noChromiumError();
  return chromium.launch({ executablePath: browser.executablePath, args: FLAGS, headless: true, env: { ...process.env, ...browser.env } });
}
