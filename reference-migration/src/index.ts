import path from 'node:path';
import { fileURLToPath } from 'node:url';

export { PRESETS, SERVICES, isPreset, renderRouteTable, type Preset, type ServiceName, type GroupMode } from './route-presets.ts';

/** The folder of this package, whatever the working directory. */
const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** The reference migration's data mapping: the monolith tables each extracted service owns, column by column. */
export const DATA_MAPPING_FILE = path.join(here, 'data-mapping.yaml');

/** The same file relative to the repository root, as the images hold it (the replicator's `DATA_MAPPING`). */
export const DATA_MAPPING_PATH = 'reference-migration/data-mapping.yaml';
