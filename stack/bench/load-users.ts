// The users of `npm run bench:load` in a process of their own, so that their CPU is theirs alone
// and the runner's (which reads the stack's logs) stays out of their timings. Takes the scenario's
// options as one JSON argument; prints one JSON line a second (`progress`) and one at the end (`result`).
import { runScenario, type ScenarioOptions } from './load-scenario.ts';

const opts = JSON.parse(process.argv[2] ?? '{}') as Omit<ScenarioOptions, 'onProgress'>;
const result = await runScenario({ ...opts, onProgress: (progress) => console.log(JSON.stringify({ progress })) });
console.log(JSON.stringify({ result }));
