/**
 * Every process the system deploys, as data: the one place a service is added. The image build
 * (the root Dockerfile's build args), the task definitions, the load balancer rules, the pipelines
 * and the entry-point test all read this list. No CDK here, so anything can import it cheaply.
 */
import { SESSION_COOKIE } from '@strangler/service-kit/cookies';

export interface DeployedApp {
  /** Also the ECR repository, the ECS service and the pipeline's SERVICE variable. */
  name: string;
  /** Its workspace folder: the image's APP build arg, and what a push must touch to build it. */
  folder: string;
  /** Entry script inside the folder (the image's ENTRY build arg). */
  entry: string;
  /** Extra arguments to the entry. */
  args?: string[];
  /** Container port it serves on. */
  port: number;
  /** Its health endpoint: path, and port when not `port`. */
  health: { path: string; port?: number };
  /** Its own database on the shared RDS instance (absent: none). */
  database?: string;
  /** Fargate task size: CPU units and MiB (a valid Fargate pair). */
  cpu: number;
  memoryMiB: number;
  /** Tasks per environment (min, max for autoscaled ones). */
  tasks: { dev: { min: number; max: number }; prod: { min: number; max: number } };
  /** `public`: behind the internet-facing ALB; `internal`: behind the internal ALB, blue/green; `none`: no load balancer. */
  exposure: 'public' | 'internal' | 'none';
  /** Plain settings (secrets are wired separately, as secrets). */
  env: Record<string, string>;
}

/**
 * Besides the workspaces an image holds (its app's folder and those it depends on), what every image
 * is built from: the root Dockerfile copies the reference migration's facts into each.
 */
export const SHARED_PATHS = ['reference-migration/**', 'package.json', 'package-lock.json', 'Dockerfile', 'tsconfig.base.json'];

/**
 * The apps that serve login find the client in X-Forwarded-For as the entry the third proxy from
 * them appended: the public ALB appends the client, the strangler proxy the ALB node it was reached
 * from, the internal ALB the proxy's task (each ALB appends by default).
 */
const LOGIN_CLIENT = { FORWARDED_FOR_HOPS: '3' };

export const APPS: readonly DeployedApp[] = [
  {
    name: 'proxy',
    folder: 'strangler-proxy',
    entry: 'src/main.ts',
    port: 8080,
    health: { path: '/__strangler/healthz', port: 8081 },
    database: 'strangler',
    cpu: 512,
    memoryMiB: 1024,
    tasks: { dev: { min: 2, max: 4 }, prod: { min: 3, max: 12 } },
    exposure: 'public',
    env: {
      PROXY_HOST: '0.0.0.0',
      PROXY_PORT: '8080',
      ADMIN_HOST: '0.0.0.0',
      ADMIN_PORT: '8081',
      TRUSTED_PROXY_HOPS: '1',
      // The apps' session cookie: a user's canary side follows their session.
      SESSION_COOKIE,
    },
  },
  {
    name: 'sync',
    folder: 'strangler-data',
    entry: 'src/main.ts',
    port: 8082,
    health: { path: '/healthz' },
    cpu: 256,
    memoryMiB: 512,
    tasks: { dev: { min: 1, max: 1 }, prod: { min: 1, max: 1 } },
    exposure: 'none',
    // The reference migration's data mapping, which the root Dockerfile copies into every image.
    env: { SYNC_HOST: '0.0.0.0', SYNC_PORT: '8082', DATA_MAPPING: 'reference-migration/data-mapping.yaml' },
  },
  {
    name: 'monolith',
    folder: 'monolith',
    entry: 'src/server.ts',
    port: 3000,
    health: { path: '/healthz' },
    database: 'monolith',
    cpu: 512,
    memoryMiB: 1024,
    tasks: { dev: { min: 1, max: 2 }, prod: { min: 2, max: 6 } },
    exposure: 'internal',
    env: { PORT: '3000', SEED_WHEN_EMPTY: 'false', SECURE_COOKIES: 'true', ...LOGIN_CLIENT },
  },
  {
    name: 'auth',
    folder: 'extracted/auth',
    entry: 'src/server.ts',
    port: 3101,
    health: { path: '/healthz' },
    database: 'auth',
    cpu: 256,
    memoryMiB: 512,
    tasks: { dev: { min: 1, max: 2 }, prod: { min: 2, max: 6 } },
    exposure: 'internal',
    env: { PORT: '3101', SECURE_COOKIES: 'true', ...LOGIN_CLIENT },
  },
  {
    name: 'listings',
    folder: 'extracted/listings',
    entry: 'src/server.ts',
    port: 3102,
    health: { path: '/healthz' },
    database: 'listings',
    cpu: 256,
    memoryMiB: 512,
    tasks: { dev: { min: 1, max: 2 }, prod: { min: 2, max: 6 } },
    exposure: 'internal',
    env: { PORT: '3102' },
  },
  {
    name: 'orders',
    folder: 'extracted/orders',
    entry: 'src/server.ts',
    port: 3103,
    health: { path: '/healthz' },
    database: 'orders',
    cpu: 256,
    memoryMiB: 512,
    tasks: { dev: { min: 1, max: 2 }, prod: { min: 2, max: 6 } },
    exposure: 'internal',
    env: { PORT: '3103' },
  },
];

/** The apps behind the internal ALB with blue/green deployments: the monolith and the extracted services. */
export const BLUE_GREEN_APPS = APPS.filter((a) => a.exposure === 'internal');

/** The apps whose route group a cutover moves (each extracted service): its pipeline runs `strangler cutover` after deploying it. */
export const CUTOVER_APPS = BLUE_GREEN_APPS.filter((a) => a.name !== 'monolith');

/** The databases the replicator keeps in step: the monolith's and each extracted service's (`<NAME>_DATABASE_URL` each). */
export const SYNC_DATABASES = ['monolith', ...BLUE_GREEN_APPS.filter((a) => a.name !== 'monolith').map((a) => a.database!)];

/** The image an app runs: apps that share a folder would share one image. */
export const imageOf = (a: DeployedApp): string => APPS.find((x) => x.folder === a.folder)!.name;

/** The images to build, one per folder. */
export const IMAGES = [...new Set(APPS.map(imageOf))];

/** The command the image runs: `node <folder>/<entry> [args]`. */
export const commandOf = (a: DeployedApp): string[] => ['node', `${a.folder}/${a.entry}`, ...(a.args ?? [])];
