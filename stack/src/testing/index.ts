export { HttpClient, type TestResponse } from './http-client.ts';
export { admin, buyer, listing, listingBody, supplier, PASSWORD, type Actor, type TestApp } from './factories.ts';
export { CLI, runCli, runCliEvents, type CliEvent } from './run-cli.ts';
export { spawnNpmStart, type NpmStart } from './npm-start.ts';
