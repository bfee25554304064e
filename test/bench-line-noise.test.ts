/**
 * Line noise must not stall the real-time loop: two identical loops, each with its own C battery
 * board on a socat pseudo-terminal pair, run side by side; one line is flooded with small garbage
 * frames at the full 921,600-baud rate, the other stays quiet. Each rejected frame has to be cheap
 * (no Error with a stack trace), or the flooded loop spends its time rejecting and falls behind the
 * clock. Judged as ratios of the two runs, which share the machine at the same moment, so a loaded
 * machine (other work, a load that changes from one second to the next) slows both alike.
 */

import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { openPtyPair, type PtyPair } from '../bench/devices/transport.ts';
import type { LoopConfig, LoopToHost } from '../bench/runtime/messages.ts';
import { RealtimeRun } from '../bench/runtime/realtime-run.ts';
import { startEmulatedBoard } from '../firmware-protocol/host/boards.ts';
import { LINE_RATE_921600, startLineNoise } from '../firmware-protocol/host/line-noise.ts';
import { budget } from './support/machine-speed.ts';

const DURATION_S = 3;

function loopConfig(path: string): LoopConfig {
  return {
    twin: { grid: 'grids/demo-33bw-microgrids.yaml', seed: 1, dt_s: 0.001 },
    devices: [{ id: 'bess-hw', path, bus: '18', rating_mva: 2, powerScale: 400, exchangeEvery: 10 }],
    snapshotEvery: 10,
    overrunPolicy: 'continue',
    duration_s: DURATION_S,
  };
}

type Stopped = Extract<LoopToHost, { type: 'stopped' }>;

describe('line noise on a real pseudo-terminal link', () => {
  const cleanups: (() => unknown)[] = [];
  afterEach(async () => {
    for (const undo of cleanups.splice(0).reverse()) await Promise.resolve(undo()).catch(() => {});
  });

  /** A pty pair with the C battery board on its far end; the loop reads the near end. */
  async function boardLine(): Promise<PtyPair> {
    const pair = await openPtyPair();
    cleanups.push(() => pair.stop());
    const board = await startEmulatedBoard('battery', { device: pair.b });
    cleanups.push(() => board.stop());
    return pair;
  }

  /** Starts a loop on `pair`; once it is pacing, a flood is written into `floodInto`. */
  async function runLoop(pair: PtyPair, floodInto: string) {
    const run = new RealtimeRun(loopConfig(pair.a));
    cleanups.push(() => run.stop());
    await run.ready;
    const noise = startLineNoise(floodInto);
    cleanups.push(() => noise.stop());
    const end = await run.finished;
    noise.stop();
    expect(end.type).toBe('stopped');
    return { end: end as Stopped, framesWritten: noise.framesWritten, bytesWritten: noise.bytesWritten };
  }

  it('a garbage flood at line rate leaves the loop keeping pace with a quiet-line loop beside it', {
    timeout: budget(180_000),
  }, async () => {
    const [quietLine, floodedLine] = [await boardLine(), await boardLine()];
    // The quiet loop's line gets no noise, but the same flood is written into a decoy pair drained
    // by `cat`: writing and relaying it load the machine alike for both, only where it lands differs.
    const decoy = await openPtyPair();
    cleanups.push(() => decoy.stop());
    const drain = spawn('cat', [decoy.a], { stdio: 'ignore' });
    cleanups.push(() => drain.kill('SIGKILL'));

    const [quiet, flooded] = await Promise.all([
      runLoop(quietLine, decoy.b),
      runLoop(floodedLine, floodedLine.b),
    ]);
    const q = quiet.end;
    const f = flooded.end;
    const summary = {
      quiet: {
        rtf: q.timing.realTimeFactor,
        overruns: q.overruns,
        steps: q.steps,
        framesRx: q.links[0].framesRx,
        cpu: (q.timing.cpu_user_us + q.timing.cpu_system_us) / 1e6,
        wall: q.timing.wall_s,
      },
      flooded: {
        rtf: f.timing.realTimeFactor,
        overruns: f.overruns,
        steps: f.steps,
        framesRx: f.links[0].framesRx,
        badFrames: f.links[0].badFrames,
        cpu: (f.timing.cpu_user_us + f.timing.cpu_system_us) / 1e6,
        wall: f.timing.wall_s,
        framesWritten: flooded.framesWritten,
        bytesPerSecond: flooded.bytesWritten / f.timing.wall_s,
      },
    };
    console.log(JSON.stringify(summary));

    // The flood really ran near line rate (the writer shares the machine: a quarter of it at least)
    // and reached the decoder: most of it rejected there, nothing on the quiet line.
    expect(flooded.bytesWritten / f.timing.wall_s).toBeGreaterThan(0.25 * LINE_RATE_921600);
    expect(quiet.bytesWritten / q.timing.wall_s).toBeGreaterThan(0.25 * LINE_RATE_921600);
    expect(f.links[0].badFrames).toBeGreaterThan(0.5 * flooded.framesWritten);
    expect(q.links[0].badFrames).toBe(0);

    // Pace: the flooded loop's real-time factor against the quiet loop's, both on the machine at
    // the same moment. Before the fix a flooded loop spent ~7.5 µs of CPU on each of ~90,000
    // rejected frames a second and fell to 0.09–0.36 of the quiet loop; after it, 0.98–1.25.
    // The CPU per rejected frame is logged, not asserted: a loop that spins between steps makes
    // CPU time follow the wall clock, so on a loaded machine it measures the scheduler.
    const cpu = (e: Stopped) => (e.timing.cpu_user_us + e.timing.cpu_system_us) / 1e6;
    const quietStep = cpu(q) / q.steps;
    const perRejected = (cpu(f) - quietStep * f.steps) / f.links[0].badFrames;
    console.log(
      `a rejected frame costs the flooded loop ${((perRejected / quietStep) * 100).toFixed(2)} % of a step`,
    );
    expect(f.timing.realTimeFactor / q.timing.realTimeFactor).toBeGreaterThan(0.6);
    // Overruns are logged above, not asserted: with two loops, two socat relays and the flood
    // writer on two cores, even the quiet loop overruns on half its steps, and the flooded one's
    // extra reads add a few hundred more on a quiet machine (1,487 vs 2,007 of 3,000 seen) as they
    // did before the fix (4,291 vs 5,000 of 5,000): the count does not tell a stalled loop from a
    // busy machine; the real-time factors do.
    // The board's answers still got through.
    expect(f.links[0].framesRx).toBeGreaterThanOrEqual(0.8 * q.links[0].framesRx);
  });
});
