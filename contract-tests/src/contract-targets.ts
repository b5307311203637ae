import { afterAll, beforeAll, describe } from 'vitest';
import type { Queryable } from '@strangler/service-kit';
import type { ServiceName } from '@strangler/reference-migration';
import { startSystem, type System } from './system.ts';

/** Who serves the routes under test: the monolith alone, or every extracted service behind the proxy. */
export type TargetName = 'monolith' | 'services';

export interface ContractTarget {
  name: TargetName;
  /** The proxy's URL: every request of a contract goes through it, as users' do. */
  url: string;
  /** The database holding `users` on the side that writes them now, for fixtures (admins cannot register). */
  db: Queryable;
  /** The database that takes the writes of a service's rows on this target. */
  writerDb(service: ServiceName): Queryable;
  system: System;
}

/**
 * One contract, run against every target: the same requests and the same assertions, whoever
 * serves them. `body` receives a getter for the running target.
 */
export function describeTargets(
  title: string,
  body: (target: () => ContractTarget) => void,
  targets: TargetName[] = ['monolith', 'services'],
): void {
  for (const name of targets) {
    describe(`${title} [${name}]`, () => {
      let system: System | undefined;
      let target: ContractTarget | undefined;
      beforeAll(async () => {
        system = await startSystem(name);
        target = { name, url: system.url, db: system.writerDb('auth'), writerDb: (s) => system!.writerDb(s), system };
      });
      afterAll(() => system?.close());
      body(() => target!);
    });
  }
}
