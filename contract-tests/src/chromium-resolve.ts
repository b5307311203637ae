// Which Chromium the journeys, the report-page test and the diagram renderer launch. Playwright's
// own browser download is never used (it cannot reach its CDN from a closed network).
import fs from 'node:fs';
import { unpackPackagedChromium, PACKAGE, type PackagedChromium } from './chromium-package.ts';

/** The system's Chromium builds, tried in order: Debian's, Ubuntu's name for it, Google's. */
export const SYSTEM_PATHS = ['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'];

/** The Chromium chosen, where it came from, and the environment it must be started with (the packaged one's libraries). */
export interface ResolvedChromium {
  source: 'CHROMIUM_PATH' | 'system' | 'package';
  executablePath: string;
  env: Record<string, string>;
}

/** What resolution looks at; each defaults to the real thing and is replaced in unit tests. */
export interface ChromiumSources {
  /** Reads CHROMIUM_PATH (a binary, used as it is) and CHROMIUM_SYSTEM_PATHS (colon-separated, replaces SYSTEM_PATHS; empty: skip the system). */
  env: NodeJS.ProcessEnv;
  isExecutable: (file: string) => boolean;
  packaged: () => Promise<PackagedChromium | undefined>;
}

/**
 * CHROMIUM_PATH when set (an error if it is not an executable file), else the first executable
 * system path, else the Chromium inside @sparticuz/chromium; undefined when there is none of them.
 */
export async function resolveChromium(sources: Partial<ChromiumSources> = {}): Promise<ResolvedChromium | undefined> {
  const { env = process.env, isExecutable = isExecutableFile, packaged = unpackPackagedChromium } = sources;
  const explicit = env.CHROMIUM_PATH;
  if (explicit) {
    if (!isExecutable(explicit)) {
      throw new Error(
        `CHROMIUM_PATH=${explicit} is not an executable file: point CHROMIUM_PATH at a Chromium binary, or unset it to use the system's Chromium or the one in ${PACKAGE}`,
      );
    }
    return { source: 'CHROMIUM_PATH', executablePath: explicit, env: {} };
  }
  const systemPaths = env.CHROMIUM_SYSTEM_PATHS === undefined ? SYSTEM_PATHS : env.CHROMIUM_SYSTEM_PATHS.split(':').filter(Boolean);
  const system = systemPaths.find((file) => isExecutable(file));
  if (system) return { source: 'system', executablePath: system, env: {} };
  const unpacked = await packaged();
  return unpacked && { source: 'package', ...unpacked };
}

/** The error for a machine with no Chromium at all: the three ways to get one. */
export function noChromiumError(): Error {
  return new Error(
    `No Chromium found: set CHROMIUM_PATH, install one at ${SYSTEM_PATHS.join(' or ')} (Debian: apt-get install -y chromium), or run npm install so the ${PACKAGE} devDependency is there`,
  );
}

function isExecutableFile(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}
