/**
 * Child process for test/recording-crash.test.ts: records numbered points, frames and events
 * until it is killed. After each completed flush it prints `flushed <points> <frames> <dir>`, so
 * the parent knows what must be readable after it sends SIGKILL.
 */
import { RunRecorder } from '../bench/recording/index.ts';

const runsDir = process.argv[2];
if (!runsDir) throw new Error('usage: recording-crash-child.ts RUNS_DIR');
const rec = await RunRecorder.open({ runsDir, scenario: 'crash', flushInterval_ms: 100 });
let seq = 0;
let frames = 0;
const burst = () => {
  for (let i = 0; i < 500; i++) {
    rec.point(
      'loop',
      {},
      { seq: BigInt(seq), lateness_us: seq % 97 },
      rec.start_ns + BigInt(seq) * 1_000_000n,
    );
    seq++;
  }
  rec.frame('tx', 'dev1', Uint8Array.of(frames & 0xff, 0x55), rec.start_ns + BigInt(frames));
  frames++;
  if (frames % 10 === 0) rec.event({ kind: 'tick', message: `burst ${frames}`, source: 'test' });
  setTimeout(burst, 2);
};
burst();
for (;;) {
  const points = seq;
  const framesNow = frames;
  await rec.flush();
  process.stdout.write(`flushed ${points} ${framesNow} ${rec.dir}\n`);
  await new Promise((r) => setTimeout(r, 50));
}
