import { describe, expect, it } from 'vitest';
import { resolveChromium, SYSTEM_PATHS, type ChromiumSources } from './chromium-resolve.ts';

const PACKAGED = {
  executablePath: '/tmp/strangler-chromium-153.0.0/chromium',
  env: { LD_LIBRARY_PATH: '/tmp/strangler-chromium-153.0.0/lib', FONTCONFIG_PATH: '/tmp/strangler-chromium-153.0.0' },
};

// The filesystem and the package are stand-ins here: this is the order alone. The real packaged
// build is launched in chromium-package.test.ts, the system's by every journey.
function sources(executables: string[], env: NodeJS.ProcessEnv = {}, packaged: typeof PACKAGED | null = PACKAGED) {
  const unpacks: string[] = [];
  const s: ChromiumSources = {
    env,
    isExecutable: (file) => executables.includes(file),
    packaged: async () => {
      unpacks.push('unpacked');
      return packaged ?? undefined;
    },
  };
  return { s, unpacks };
}

describe('resolveChromium', () => {
  it('when CHROMIUM_PATH names an executable, then it wins over the system and the package, which is not unpacked', async () => {
    const { s, unpacks } = sources(['/opt/chrome/chrome', '/usr/bin/chromium'], { CHROMIUM_PATH: '/opt/chrome/chrome' });
    expect(await resolveChromium(s)).toEqual({ source: 'CHROMIUM_PATH', executablePath: '/opt/chrome/chrome', env: {} });
    expect(unpacks).toEqual([]);
  });

  it('when CHROMIUM_PATH names no executable, then the error names the variable and the path, and nothing else is tried', async () => {
    const { s, unpacks } = sources(['/usr/bin/chromium'], { CHROMIUM_PATH: '/opt/nothing/chrome' });
    await expect(resolveChromium(s)).rejects.toThrow(
      /^CHROMIUM_PATH=\/opt\/nothing\/chrome is not an executable file: point CHROMIUM_PATH at/,
    );
    expect(unpacks).toEqual([]);
  });

  it('when CHROMIUM_PATH is empty, then it counts as unset', async () => {
    const { s } = sources(['/usr/bin/chromium'], { CHROMIUM_PATH: '' });
    expect((await resolveChromium(s))?.source).toBe('system');
  });

  it('when several system builds exist, then the first of the list is taken: Debian, Ubuntu, then Google', async () => {
    expect(SYSTEM_PATHS).toEqual(['/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']);
    expect((await resolveChromium(sources(['/usr/bin/google-chrome', '/usr/bin/chromium-browser']).s))?.executablePath).toBe(
      '/usr/bin/chromium-browser',
    );
    const { s, unpacks } = sources(['/usr/bin/google-chrome']);
    expect(await resolveChromium(s)).toEqual({ source: 'system', executablePath: '/usr/bin/google-chrome', env: {} });
    expect(unpacks).toEqual([]);
  });

  it('when no system build exists, then the packaged one is unpacked and used with its environment', async () => {
    const { s, unpacks } = sources([]);
    expect(await resolveChromium(s)).toEqual({ source: 'package', ...PACKAGED });
    expect(unpacks).toEqual(['unpacked']);
  });

  it('when CHROMIUM_SYSTEM_PATHS is empty, then the system is skipped even where it has Chromium', async () => {
    const { s } = sources(['/usr/bin/chromium'], { CHROMIUM_SYSTEM_PATHS: '' });
    expect((await resolveChromium(s))?.source).toBe('package');
  });

  it('when CHROMIUM_SYSTEM_PATHS lists paths, then those replace the built-in list, in their order', async () => {
    const { s } = sources(['/usr/bin/chromium', '/snap/bin/chromium', '/usr/local/bin/chrome'], {
      CHROMIUM_SYSTEM_PATHS: '/usr/local/bin/chrome:/snap/bin/chromium',
    });
    expect((await resolveChromium(s))?.executablePath).toBe('/usr/local/bin/chrome');
  });

  it('when there is no Chromium anywhere and the package is not installed, then the answer is undefined', async () => {
    expect(await resolveChromium(sources([], {}, null).s)).toBeUndefined();
  });
});
