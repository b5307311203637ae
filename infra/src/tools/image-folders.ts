// Which workspace folders an app's image holds: the app's own and, transitively, each workspace it
// depends on at run time (`dependencies`, not `devDependencies`). The root Dockerfile copies exactly
// these, so the proxy's image holds no data toolkit and a service's no proxy:
//   node infra/src/tools/image-folders.ts <repository root> <app folder>
import fs from 'node:fs';
import path from 'node:path';

interface Manifest {
  name: string;
  workspaces?: string[];
  dependencies?: Record<string, string>;
}

const manifest = (root: string, folder: string): Manifest =>
  JSON.parse(fs.readFileSync(path.join(root, folder, 'package.json'), 'utf8')) as Manifest;

export function imageFolders(root: string, app: string): string[] {
  const folderOf = new Map((manifest(root, '.').workspaces ?? []).map((w) => [manifest(root, w).name, w]));
  if (![...folderOf.values()].includes(app)) throw new Error(`${app} is not a workspace of ${root}`);
  const seen = new Set<string>();
  const visit = (folder: string): void => {
    if (seen.has(folder)) return;
    seen.add(folder);
    for (const dep of Object.keys(manifest(root, folder).dependencies ?? {})) {
      const own = folderOf.get(dep);
      if (own) visit(own);
    }
  };
  visit(app);
  return [...seen];
}

if (import.meta.main) {
  const [root, app] = process.argv.slice(2);
  if (!root || !app) {
    console.error('usage: node image-folders.ts <repository root> <app folder>');
    process.exit(2);
  }
  console.log(imageFolders(root, app).join('\n'));
}
