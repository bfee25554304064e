/**
 * Child process for test/recording-crash.test.ts: records numbered points, frames and events,
 * and steps a real twin whose replay records (inputs, hashes) it hands to the recorder as the
 * loop process does, until it is killed. After each completed flush it prints
 * `flushed <points> <frames> <steps> <dir>`, so the parent knows what must be readable (and
 * replayable) after it sends SIGKILL.
 */
import { join } from 'node:path';
import { ReplayLogWriter, RunRecorder } from '../bench/recording/index.ts';
import type { DeviceLinkConfig } from '../bench/runtime/messages.ts';
import { createTwin } from '../bench/runtime/twin-factory.ts';
import type { DeviceInput } from '../twin/api.ts';

const runsDir = process.argv[2];
if (!runsDir) throw new Error('usage: recording-crash-child.ts RUNS_DIR');
const loop = {
  twin: { grid: join(import.meta.dirname, '..', 'grids', 'demo-33bw-microgrids.yaml'), seed: 3, dt_s: 0.001 },
  devices: [{ id: 'bess-hw' }],
};
const rec = await RunRecorder.open({
  runsDir,
  scenario: 'crash',
  flushInterval_ms: 100,
  manifest: { loop, grid: loop.twin.grid, seed: 3, dt_s: 0.001 },
});
const twin = await createTwin(loop.twin, loop.devices as DeviceLinkConfig[]);
const replayLog = new ReplayLogWriter();
let step = 0;
let seq = 0;
let frames = 0;
const burst = () => {
  for (let i = 0; i < 500; i++) {
    rec.line(
      'loop',
      {},
      { seq: BigInt(seq), lateness_us: seq % 97 },
      rec.start_ns + BigInt(seq) * 1_000_000n,
    );
    seq++;
  }
  for (let i = 0; i < 5; i++, step++) {
    const inputs: DeviceInput[] = [
      { deviceId: 'bess-hw', p_mw: 0.05 * Math.sin(step / 97), q_mvar: 0, online: step > 10 },
    ];
    replayLog.inputs(step, inputs);
    replayLog.state(step, twin.step(inputs));
  }
  rec.replay(replayLog.drain());
  rec.frame('tx', 'dev1', Uint8Array.of(frames & 0xff, 0x55), rec.start_ns + BigInt(frames));
  frames++;
  if (frames % 10 === 0) rec.event({ kind: 'tick', message: `burst ${frames}`, source: 'test' });
  setTimeout(burst, 2);
};
burst();
for (;;) {
  const points = seq;
  const framesNow = frames;
  const steps = step;
  await rec.flush();
  process.stdout.write(`flushed ${points} ${framesNow} ${steps} ${rec.dir}\n`);
  await new Promise((r) => setTimeout(r, 50));
}
