/**
 * Start-time sweep of the planned islanding and reconnection (npm run bench:islanding-sweep): the
 * classroom scenario (scenarios/island-transition.yaml) and the longer planned-islanding scenario
 * played on the demo twin after it has run 0, 10, … 180 s, as a class starts them on the live
 * bench. Per start time: seconds from the island request to `islanded`, from the reconnect request
 * to `reconnected`, and the assertions that failed. Ends with one JSON line of figures.
 *
 *   npm run bench:islanding-sweep                       both scenarios, 19 start times
 *   npm run bench:islanding-sweep -- --scenario <file>  one scenario
 *   options: --starts 0,10,20 (start times, s), --dt S (step, s; default 0.005)
 */
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { playAfter } from '../twin/scenario/start-sweep.ts';

const root = join(import.meta.dirname, '..');
const { values } = parseArgs({
  options: { scenario: { type: 'string' }, starts: { type: 'string' }, dt: { type: 'string' } },
});
const scenarios = values.scenario
  ? [values.scenario]
  : ['scenarios/island-transition.yaml', 'scenarios/mg1-planned-islanding-resync.yaml'].map((f) =>
      join(root, f),
    );
const starts = values.starts
  ? values.starts.split(',').map(Number)
  : Array.from({ length: 19 }, (_, i) => i * 10);
const dt_s = values.dt ? Number(values.dt) : 0.005;

const figures: Record<string, unknown> = { dt_s, starts };
for (const file of scenarios) {
  const rows = [];
  for (const start of starts) {
    const { verdict, events } = await playAfter(file, start, { dt_s });
    const at = (kind: string) => events.find((e) => e.kind === kind)?.t_s;
    const islandAsked = at('islanding-requested');
    const islanded = at('islanded');
    const reconnectAsked = at('reconnect-requested');
    const reconnected = at('reconnected');
    const failed = verdict.assertions.filter((a) => !a.passed).map((a) => `${a.name}: ${a.detail}`);
    const row = {
      start_s: start,
      island_s:
        islanded !== undefined && islandAsked !== undefined ? +(islanded - islandAsked).toFixed(2) : null,
      reconnected_at_s: reconnected === undefined ? null : +reconnected.toFixed(2),
      reconnect_s:
        reconnected !== undefined && reconnectAsked !== undefined
          ? +(reconnected - reconnectAsked).toFixed(2)
          : null,
      failed,
    };
    rows.push(row);
    console.log(JSON.stringify({ scenario: verdict.scenario, ...row }));
  }
  figures[basename(file, '.yaml')] = {
    passed: rows.filter((r) => r.failed.length === 0).length,
    of: rows.length,
    failedStarts_s: rows.filter((r) => r.failed.length > 0).map((r) => r.start_s),
    island_s: {
      min: Math.min(...rows.map((r) => r.island_s ?? Number.NaN)),
      max: Math.max(...rows.map((r) => r.island_s ?? Number.NaN)),
    },
    reconnect_s: { max: Math.max(...rows.flatMap((r) => (r.reconnect_s === null ? [] : [r.reconnect_s]))) },
  };
}
console.log(JSON.stringify(figures));
