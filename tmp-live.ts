import { RealtimeRun } from './bench/runtime/realtime-run.ts';
import { checkControllerSpecs } from './bench/runtime/controllers/spec.ts';
const run = new RealtimeRun({ twin: { grid: 'grids/demo-33bw-microgrids.yaml', seed: 1, dt_s: 0.001 }, devices: [{ id: 'bess-hw', driver: 'simulated' }], snapshotEvery: 100, overrunPolicy: 'continue', duration_s: 4,
 controllers: checkControllerSpecs([{ module: 'vpp', id: 'vpp', options: { portfolio: 'vpp/portfolios/demo-33bw-live.yaml', target: [[0, 1.0], [2, 1.3]], period_s: 0.5 } }], '.') });
run.on('message', (m) => { if (m.type === 'batch') { for (const t of m.controllerTelemetry ?? []) console.log(JSON.stringify(t.telemetry).slice(0, 1500)); for (const e of m.events) console.log('EV', e.kind, e.message); } });
console.log(JSON.stringify(await run.finished).slice(0, 600));
