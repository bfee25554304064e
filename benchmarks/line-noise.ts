/**
 * What line noise costs the bench: small garbage frames (firmware-protocol/host/line-noise.ts) at
 * the full 921,600-baud rate.
 *   npm run bench:line-noise [-- --seconds 5 --chunk 64 --load 0]
 *
 *   1. reject path: garbage fed to a FirmwareLink (deframer, COBS, CRC and header checks, the
 *      link's counting and frame capture) through a mock transport in `--chunk`-byte reads;
 *      rejected frames per CPU-second of this process, with normal stack traces and with
 *      Error.stackTraceLimit = 0 (equal when rejecting builds no Error; far apart when it does);
 *   2. the real-time loop (its own process, 1 kHz) with the C battery board on a socat pty pair,
 *      `--seconds` on a quiet line, then the same with the flood written into the line: real-time
 *      factor, overruns, frames rejected and answers received.
 * --load N adds N busy processes for the whole run. Ends with one JSON line.
 * Targets: the flood leaves the real-time factor ≥ 0.99 and adds no overruns to the quiet run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { loadavg } from 'node:os';
import { FirmwareLink } from '../bench/devices/firmware-link.ts';
import { MockTransport, openPtyPair } from '../bench/devices/transport.ts';
import type { CapturedFrame, LoopToHost } from '../bench/runtime/messages.ts';
import { RealtimeRun } from '../bench/runtime/realtime-run.ts';
import { startEmulatedBoard } from '../firmware-protocol/host/boards.ts';
import { garbageFrames, LINE_RATE_921600, startLineNoise } from '../firmware-protocol/host/line-noise.ts';

function arg(name: string, fallback: number, min: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!Number.isInteger(v) || v < min) {
    console.error(`bench:line-noise: --${name} must be an integer ≥ ${min}`);
    process.exit(2);
  }
  return v;
}
const SECONDS = arg('seconds', 5, 1);
const CHUNK = arg('chunk', 64, 1);
const LOAD = arg('load', 0, 0);

const cpuSeconds = (since: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
};

/** Rejected frames per CPU-second through a FirmwareLink's receive path. */
async function rejectRate(): Promise<{ rejected_per_cpu_s: number; us_per_rejected: number }> {
  const transport = new MockTransport();
  const link = new FirmwareLink({ id: 'noise', bus: '1' }, { transport: () => transport });
  await link.open();
  const { bytes } = garbageFrames(1 << 20, 7);
  const captured: CapturedFrame[] = [];
  const pass = () => {
    for (let at = 0, reads = 0; at < bytes.length; at += CHUNK, reads++) {
      transport.emit('data', bytes.subarray(at, at + CHUNK));
      // The loop drains captured frames every 20 ms: about 30 reads of 64 bytes at line rate.
      if (reads % 32 === 31) {
        link.drainFrames(captured);
        captured.length = 0;
      }
    }
  };
  pass(); // warm-up: compile the path first
  const before = link.stats().badFrames;
  const cpu = process.cpuUsage();
  let spent = 0;
  while (spent < 1) {
    pass();
    spent = cpuSeconds(cpu);
  }
  const rejected = link.stats().badFrames - before;
  await link.close();
  return { rejected_per_cpu_s: Math.round(rejected / spent), us_per_rejected: (spent / rejected) * 1e6 };
}

type Stopped = Extract<LoopToHost, { type: 'stopped' }>;

/** The loop against the battery board on a pty pair, quiet or flooded. */
async function loopRun(flood: boolean) {
  const pair = await openPtyPair();
  const board = await startEmulatedBoard('battery', { device: pair.b });
  try {
    const run = new RealtimeRun({
      twin: { grid: 'grids/demo-33bw-microgrids.yaml', seed: 1, dt_s: 0.001 },
      devices: [
        { id: 'bess-hw', path: pair.a, bus: '18', rating_mva: 2, powerScale: 400, exchangeEvery: 10 },
      ],
      snapshotEvery: 10,
      overrunPolicy: 'continue',
      duration_s: SECONDS,
    });
    await run.ready;
    const noise = flood ? startLineNoise(pair.b) : undefined;
    const end = await run.finished;
    noise?.stop();
    if (end.type === 'error') throw new Error(`loop failed: ${end.message}`);
    const e: Stopped = end;
    const link = e.links[0];
    return {
      real_time_factor: Number(e.timing.realTimeFactor.toFixed(4)),
      overruns: e.overruns,
      steps: e.steps,
      lateness_us_p99: Math.round(e.timing.lateness_us.p99),
      loop_cpu_s: (e.timing.cpu_user_us + e.timing.cpu_system_us) / 1e6,
      frames_rx: link.framesRx,
      rejected: link.badFrames,
      noise_bytes_per_s: noise ? Math.round(noise.bytesWritten / e.timing.wall_s) : 0,
    };
  } finally {
    await board.stop();
    await pair.stop();
  }
}

const hogs: ChildProcess[] = [];
for (let i = 0; i < LOAD; i++) hogs.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }));
try {
  const load0 = loadavg()[0];
  const withStacks = await rejectRate();
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  const withoutStacks = await rejectRate();
  Error.stackTraceLimit = limit;
  console.log(
    `reject path (${CHUNK}-byte reads): ${withStacks.rejected_per_cpu_s} rejected frames per CPU-second ` +
      `(${withStacks.us_per_rejected.toFixed(2)} µs each); with Error.stackTraceLimit = 0: ` +
      `${withoutStacks.rejected_per_cpu_s} (${withoutStacks.us_per_rejected.toFixed(2)} µs)`,
  );
  const quiet = await loopRun(false);
  console.log(`loop, quiet line:   ${JSON.stringify(quiet)}`);
  const flooded = await loopRun(true);
  console.log(`loop, flooded line: ${JSON.stringify(flooded)}`);
  const load = loadavg();
  console.log(`load average ${load.map((x) => x.toFixed(2)).join(' ')} (at start ${load0.toFixed(2)})`);
  console.log(
    JSON.stringify({
      bench: 'line-noise',
      line_rate_bytes_per_s: LINE_RATE_921600,
      chunk_bytes: CHUNK,
      reject_path: {
        rejected_per_cpu_s: withStacks.rejected_per_cpu_s,
        us_per_rejected: Number(withStacks.us_per_rejected.toFixed(3)),
        rejected_per_cpu_s_without_stack_traces: withoutStacks.rejected_per_cpu_s,
      },
      loop: {
        seconds: SECONDS,
        quiet,
        flooded,
        rtf_ratio: Number((flooded.real_time_factor / quiet.real_time_factor).toFixed(4)),
        extra_overruns: flooded.overruns - quiet.overruns,
        // The loop's CPU beyond the quiet run's for the same steps, per rejected frame (µs): its
        // cost of line noise, whatever the load (on an idle machine both runs spin between steps).
        loop_us_per_rejected: Number(
          (
            ((flooded.loop_cpu_s - (quiet.loop_cpu_s * flooded.steps) / quiet.steps) / flooded.rejected) *
            1e6
          ).toFixed(3),
        ),
      },
      added_load: LOAD,
      loadavg: load,
    }),
  );
} finally {
  for (const h of hogs) h.kill('SIGKILL');
}
