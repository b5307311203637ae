import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The monolith's versioned SQL migrations. */
export const MIGRATIONS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../migrations');
