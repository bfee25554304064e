/**
 * The board image under QEMU (Cortex-M3 on lm3s6965evb) in the real-time loop at the demo's exchange
 * rate (100 Hz), next to the host-built board: each in turn on a socat pseudo-terminal pair, the
 * loop running --seconds (default 60) of the demo microgrid. Target: no missed and no late exchange
 * over 60 s on a quiet machine (docs/firmware.md). Also the bare round trip of each board through a
 * minimal client (benchmarks/board-rtt.ts).
 *   npm run bench:firmware-loop [-- --seconds 60 --exchange-ms 10 --samples 400 --rt-priority 50]
 * --rt-priority runs QEMU (every thread), the pty relay and the loop process SCHED_FIFO (root or
 * CAP_SYS_NICE): what the boards sustain when they get the CPU they ask for, on a busy machine.
 * Ends with one JSON line: per board exchanges, missed, late, outages, loop RTT p50/p99/max and bare
 * RTT p50/p99, µs.
 */
import { execFileSync } from 'node:child_process';
import { loadavg } from 'node:os';
import { openPtyPair } from '../bench/devices/transport.ts';
import { createSerialTransport } from '../bench/devices/tty-serial-transport.ts';
import type { LinkStats, LoopToHost } from '../bench/runtime/messages.ts';
import { RealtimeRun } from '../bench/runtime/realtime-run.ts';
import { startEmulatedBoard } from '../firmware-protocol/host/boards.ts';
import { buildTargetImages, startQemuBoard } from '../firmware-protocol/host/target.ts';
import { boardRoundTrips } from './board-rtt.ts';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return fallback;
  const v = Number(process.argv[i + 1]);
  if (!(v > 0)) {
    console.error(`bench:firmware-loop: --${name} must be a number > 0`);
    process.exit(2);
  }
  return v;
}
const SECONDS = arg('seconds', 60);
const EXCHANGE_MS = Math.round(arg('exchange-ms', 10));
const SAMPLES = Math.round(arg('samples', 400));
const RT_PRIORITY = process.argv.includes('--rt-priority') ? Math.round(arg('rt-priority', 50)) : undefined;

/** SCHED_FIFO for every thread of `pid` (no-op without --rt-priority). */
function realtime(pid: number): void {
  if (RT_PRIORITY === undefined || pid <= 0) return;
  execFileSync('chrt', ['-f', '-a', '-p', String(RT_PRIORITY), String(pid)]);
}

const percentile = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

async function bareRtt(path: string): Promise<{ p50: number; p99: number }> {
  const t = createSerialTransport({ path });
  await t.open();
  try {
    const rtts = await boardRoundTrips(
      { onData: (cb) => t.on('data', cb), write: (bytes) => t.write(bytes) },
      SAMPLES,
    );
    rtts.sort((a, b) => a - b);
    return { p50: Math.round(percentile(rtts, 0.5)), p99: Math.round(percentile(rtts, 0.99)) };
  } finally {
    await t.close();
  }
}

async function measure(kind: 'qemu' | 'host') {
  const pair = await openPtyPair();
  const board =
    kind === 'qemu'
      ? await startQemuBoard('battery', { device: pair.b })
      : await startEmulatedBoard('battery', { device: pair.b });
  try {
    realtime(pair.pid);
    realtime(board.pid);
    const bare = await bareRtt(pair.a);
    const run = new RealtimeRun({
      twin: { grid: 'grids/demo-33bw-microgrids.yaml', seed: 1, dt_s: 0.001 },
      devices: [
        {
          id: 'bess-hw',
          path: pair.a,
          bus: '18',
          rating_mva: 2,
          powerScale: 400,
          exchangeEvery: EXCHANGE_MS,
        },
      ],
      snapshotEvery: 100,
      overrunPolicy: 'continue',
      duration_s: SECONDS,
      ...(RT_PRIORITY === undefined ? {} : { realtime: { priority: RT_PRIORITY } }),
    });
    let worstRtt = 0;
    run.on('message', (m: LoopToHost) => {
      if (m.type === 'batch' && m.links[0]) worstRtt = Math.max(worstRtt, m.links[0].rtt_us_max || 0);
    });
    await run.ready;
    const end = await run.finished;
    if (end.type !== 'stopped')
      throw new Error(`${kind} run ended with ${JSON.stringify(end).slice(0, 400)}`);
    const link: LinkStats = end.links[0];
    const figures = {
      exchanges: link.framesTx,
      answered: link.framesRx,
      missed: link.missed,
      late: link.late,
      outages: link.outages,
      bad_frames: link.badFrames,
      loop_rtt_us_p50: Math.round(link.rtt_us_p50),
      loop_rtt_us_p99: Math.round(link.rtt_us_p99),
      loop_rtt_us_max: Math.round(Math.max(worstRtt, link.rtt_us_max)),
      bare_rtt_us_p50: bare.p50,
      bare_rtt_us_p99: bare.p99,
    };
    console.log(`${kind} board: ${JSON.stringify(figures)}`);
    return figures;
  } finally {
    await board.stop();
    await pair.stop();
  }
}

await buildTargetImages();
const loadBefore = loadavg()[0];
const qemu = await measure('qemu');
const host = await measure('host');
const sustained = qemu.missed === 0 && qemu.late === 0 && qemu.outages === 0;
console.log(
  JSON.stringify({
    bench: 'firmware-loop',
    seconds: SECONDS,
    exchange_hz: 1000 / EXCHANGE_MS,
    rt_priority: RT_PRIORITY ?? null,
    load_1min: Number(loadBefore.toFixed(2)),
    qemu_lm3s6965evb: qemu,
    host_board: host,
    qemu_sustains_rate: sustained,
  }),
);
