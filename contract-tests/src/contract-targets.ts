import { afterAll, beforeAll, describe, it } from 'vitest';
import type { Queryable } from '@strangler/service-kit';
import type { ServiceName } from '@strangler/reference-migration';
import { HttpClient } from '@strangler/stack/testing';
import { startSystem, type System } from './system.ts';
import { deploymentUrl, notRunSuffix, previewHeaders, type Need } from './deployment.ts';

/**
 * Who serves the routes under test: the monolith alone, or every extracted service behind the
 * proxy (systems of the suite's own), or the running deployment named by `E2E_BASE_URL`.
 */
export type TargetName = 'monolith' | 'services' | 'deployment';

export interface ContractTarget {
  name: TargetName;
  /** The proxy's URL: every request of a contract goes through it, as users' do. */
  url: string;
  /** Headers every request sends: the preview routing of `E2E_PREVIEW` against a deployment. */
  headers: Readonly<Record<string, string>> | undefined;
  /** A client of its own (a cookie jar: one user) sending `headers`. */
  client(): HttpClient;
  /** The database holding `users` on the side that writes them now, for fixtures (admins cannot register). */
  db: Queryable;
  /** The database that takes the writes of a service's rows on this target. */
  writerDb(service: ServiceName): Queryable;
  system: System;
}

/** Whether the suites run against a deployment (`E2E_BASE_URL`) rather than systems of their own. */
export const againstDeployment = (): boolean => deploymentUrl() !== undefined;

/**
 * One contract, run against every target: the same requests and the same assertions, whoever
 * serves them. `body` receives a getter for the running target. With `E2E_BASE_URL` set it runs
 * once, against that deployment, unless it `needs` what a deployment does not give.
 */
export function describeTargets(
  title: string,
  body: (target: () => ContractTarget) => void,
  opts: { targets?: Exclude<TargetName, 'deployment'>[]; needs?: Need[] } = {},
): void {
  const deployment = deploymentUrl();
  if (deployment) {
    const needs = opts.needs ?? [];
    if (needs.length) {
      describe.skip(`${title} [deployment]${notRunSuffix(needs)}`, () => body(unreachable));
    } else {
      const target = deploymentTarget(deployment, previewHeaders());
      describe(`${title} [deployment]`, () => body(() => target));
    }
    return;
  }
  for (const name of opts.targets ?? ['monolith', 'services']) {
    describe(`${title} [${name}]`, () => {
      let system: System | undefined;
      let target: ContractTarget | undefined;
      beforeAll(async () => {
        system = await startSystem(name);
        target = {
          name,
          url: system.url,
          headers: undefined,
          client: () => new HttpClient(system!.url),
          db: system.writerDb('auth'),
          writerDb: (s) => system!.writerDb(s),
          system,
        };
      });
      afterAll(() => system?.close());
      body(() => target!);
    });
  }
}

/** `it` for a test that needs what a deployment does not give: against one it is reported skipped, saying why. */
export function itNeeds(needs: [Need, ...Need[]], name: string, fn: () => Promise<void>, timeout?: number): void {
  if (againstDeployment()) it.skip(name + notRunSuffix(needs), fn);
  else it(name, fn, timeout);
}

/** `describe` for tests that need what a deployment does not give (apps of their own): against one, skipped, saying why. */
export function describeNeeds(needs: [Need, ...Need[]], title: string, body: () => void): void {
  if (againstDeployment()) describe.skip(title + notRunSuffix(needs), body);
  else describe(title, body);
}

function deploymentTarget(url: string, headers: Record<string, string> | undefined): ContractTarget {
  const absent = (what: string): never => {
    throw new Error(
      `a deployment gives no ${what}: declare what this test needs (describeTargets' needs, itNeeds) so it is not run against one`,
    );
  };
  return {
    name: 'deployment',
    url,
    headers,
    client: () => new HttpClient(url, headers),
    get db(): Queryable {
      return absent('database');
    },
    writerDb: () => absent('database'),
    get system(): System {
      return absent('system of its own');
    },
  };
}

const unreachable = (): ContractTarget => {
  throw new Error('a skipped contract has no target');
};
