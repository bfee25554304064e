/**
 * npm run bench:record — recording throughput and its effect on the real-time loop.
 *
 * 1. points/s to file: RunRecorder.point() for N points, timed until close() has them on disk.
 * 2. points/s to a local server: the same points through InfluxSink to InfluxDB 1.x (v1 write)
 *    and to VictoriaMetrics (v2 write API via @influxdata/influxdb-client), timed until every
 *    batch is acknowledged. Servers are started on loopback in temp dirs (test/servers).
 * 3. loop lateness: a 1 kHz Pacer in a separate process posting its steps every 20 ms, the main
 *    thread idle vs. recording every snapshot (file + InfluxDB); overruns and lateness compared.
 *
 * Prints human lines, then one JSON line of figures.
 */
import { fork } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InfluxSink, RunRecorder } from '../bench/recording/index.ts';
import type { Snapshot } from '../bench/runtime/messages.ts';
import { type PointSink, snapshotToPoints } from '../bench/runtime/snapshot-points.ts';
import { startInfluxdb1, startVictoriaMetrics } from '../test/servers/index.ts';

const FILE_POINTS = Number(process.env.BENCH_FILE_POINTS ?? 2_000_000);
const SERVER_POINTS = Number(process.env.BENCH_SERVER_POINTS ?? 1_000_000);
const LOOP_SECONDS = Number(process.env.BENCH_LOOP_SECONDS ?? 5);
const BUSES = 33;
const busIds = Array.from({ length: BUSES }, (_, i) => String(i + 1));

function snapshot(step: number): Snapshot {
  const t = step * 0.001;
  return {
    t_s: t,
    step,
    islands: [
      {
        id: 'main',
        f_hz: 50 + 0.05 * Math.sin(t),
        rocof_hz_s: 0.05 * Math.cos(t),
        energised: true,
        gridConnected: true,
      },
      { id: 'mg2', f_hz: 50 - 0.01 * Math.sin(3 * t), rocof_hz_s: 0, energised: true, gridConnected: false },
      { id: 'mg3', f_hz: 50, rocof_hz_s: 0, energised: true, gridConnected: false },
    ],
    vm_pu: busIds.map((_, i) => 1 - i * 0.001 + 0.0001 * Math.sin(t + i)),
    va_deg: busIds.map((_, i) => -0.1 * i),
    devices: Object.fromEntries(
      Array.from({ length: 10 }, (_, i) => [
        `der${i}`,
        { p_mw: 0.1 * i, q_mvar: 0.01 * i, soc: 0.5, online: true },
      ]),
    ),
    loop: { lateness_us: step % 50, work_us: 200, overruns: 0 },
  };
}
const POINTS_PER_SNAPSHOT = 3 + BUSES + 10 + 1;

async function recordPoints(rec: RunRecorder, total: number): Promise<number> {
  let written = 0;
  let step = 0;
  const sink: PointSink = (m, tags, fields, t) => rec.point(m, tags, fields, t);
  const t0 = performance.now();
  while (written < total) {
    // Yield now and then, as the main thread does between worker batches, so timers can flush.
    for (let k = 0; k < 20 && written < total; k++, step++) {
      snapshotToPoints(snapshot(step), busIds, rec.start_ns, sink);
      written += POINTS_PER_SNAPSHOT;
    }
    if (step % 2000 === 0) await new Promise((r) => setImmediate(r));
  }
  return performance.now() - t0;
}

async function benchFile(runsDir: string) {
  const rec = await RunRecorder.open({ runsDir, scenario: 'bench-file' });
  const t0 = performance.now();
  const enqueue_ms = await recordPoints(rec, FILE_POINTS);
  const manifest = await rec.close();
  const total_ms = performance.now() - t0;
  const points = manifest.counts!.points;
  return {
    points,
    enqueue_points_s: Math.round(points / (enqueue_ms / 1000)),
    file_points_s: Math.round(points / (total_ms / 1000)),
    bytes_per_point: Number((manifest.recorder!.pointsFileBytes / points).toFixed(2)),
    max_queue_mb: Number((manifest.recorder!.maxQueuedBytes / 1e6).toFixed(1)),
  };
}

async function benchServer(runsDir: string, sink: InfluxSink) {
  const rec = await RunRecorder.open({ runsDir, scenario: 'bench-server', sinks: [sink] });
  const t0 = performance.now();
  await recordPoints(rec, SERVER_POINTS);
  const manifest = await rec.close();
  const total_ms = performance.now() - t0;
  const stats = manifest.sinks![0];
  const delivered = (stats.sent_points as number) + (stats.backfilled_points as number);
  return {
    points: manifest.counts!.points,
    delivered,
    points_s: Math.round(delivered / (total_ms / 1000)),
    spooled: stats.spooled_points as number,
  };
}

/**
 * The loop: a process of its own, as the bench's real loop (bench/runtime/loop-process.ts) is —
 * 1 kHz pacer, ~0.1 ms of work per step, the steps posted over IPC every 20 ms.
 */
const loopSource = `
const pacerUrl = process.argv[2];
const seconds = Number(process.argv[3]);
const { Pacer } = await import(pacerUrl);
const pacer = new Pacer({ period_ms: 1, overrunPolicy: 'continue' });
const late = [];
let batch = [];
let lastPost = performance.now();
const steps = seconds * 1000;
await pacer.run(
  (step) => {
    let x = 0;
    for (let i = 0; i < 20000; i++) x += Math.sqrt(i);
    batch.push(step + (x > 0 ? 0 : 1));
    return step + 1 < steps;
  },
  (timing) => {
    late.push(timing.lateness_us);
    if (performance.now() - lastPost >= 20) {
      process.send({ type: 'batch', steps: batch });
      batch = [];
      lastPost = performance.now();
    }
  },
);
late.sort((a, b) => a - b);
process.send({
  type: 'done',
  overruns: pacer.stats.overruns,
  p50: late[Math.floor(late.length * 0.5)],
  p99: late[Math.floor(late.length * 0.99)],
  max: late[late.length - 1],
});
process.disconnect();
`;

async function benchLoop(dir: string, record: ((steps: number[]) => void) | undefined) {
  const script = join(dir, 'bench-loop.mjs');
  await writeFile(script, loopSource);
  const pacerUrl = pathToFileURL(join(import.meta.dirname, '..', 'bench', 'runtime', 'pacer.ts')).href;
  const child = fork(script, [pacerUrl, String(LOOP_SECONDS)], { execArgv: ['--import', 'tsx'] });
  const result = await new Promise<{ overruns: number; p50: number; p99: number; max: number }>(
    (resolve, reject) => {
      child.on(
        'message',
        (m: { type: string; steps?: number[]; overruns: number; p50: number; p99: number; max: number }) => {
          if (m.type === 'batch') record?.(m.steps!);
          else resolve(m);
        },
      );
      child.on('error', reject);
      child.on('exit', (code) => reject(new Error(`bench loop exited with ${code}`)));
    },
  );
  return {
    overruns: result.overruns,
    lateness_p50_us: Math.round(result.p50 * 10) / 10,
    lateness_p99_us: Math.round(result.p99 * 10) / 10,
    lateness_max_us: Math.round(result.max * 10) / 10,
  };
}

async function main() {
  const runsDir = await mkdtemp(join(tmpdir(), 'gridloop-bench-record-'));
  const influx = await startInfluxdb1();
  const vm = await startVictoriaMetrics();
  try {
    await influx.createDatabase('bench');
    console.log(
      `bench:record — ${FILE_POINTS} points to file, ${SERVER_POINTS} to each server, ${LOOP_SECONDS} s loop runs`,
    );
    const file = await benchFile(runsDir);
    console.log(
      `file: ${file.file_points_s.toLocaleString()} points/s end to end (enqueue ${file.enqueue_points_s.toLocaleString()} points/s), ${file.bytes_per_point} B/point gzip, queue peak ${file.max_queue_mb} MB`,
    );
    const influx1 = await benchServer(
      runsDir,
      new InfluxSink({ name: 'influx1', target: { api: 'v1', url: influx.url, database: 'bench' } }),
    );
    console.log(
      `InfluxDB 1.x (v1 /write): ${influx1.points_s.toLocaleString()} points/s, ${influx1.delivered}/${influx1.points} delivered, ${influx1.spooled} spooled`,
    );
    const victoria = await benchServer(
      runsDir,
      new InfluxSink({ name: 'vm', target: { api: 'v2', url: vm.url, org: 'bench', bucket: 'bench' } }),
    );
    console.log(
      `VictoriaMetrics (v2 write API): ${victoria.points_s.toLocaleString()} points/s, ${victoria.delivered}/${victoria.points} delivered, ${victoria.spooled} spooled`,
    );

    const idle = await benchLoop(runsDir, undefined);
    console.log(
      `loop 1 kHz, not recording: ${idle.overruns} overruns, lateness p50 ${idle.lateness_p50_us} µs, p99 ${idle.lateness_p99_us} µs, max ${idle.lateness_max_us} µs`,
    );
    const rec = await RunRecorder.open({
      runsDir,
      scenario: 'bench-loop',
      sinks: [new InfluxSink({ name: 'influx1', target: { api: 'v1', url: influx.url, database: 'bench' } })],
    });
    const sink: PointSink = (m, tags, fields, t) => rec.point(m, tags, fields, t);
    const recording = await benchLoop(runsDir, (steps) => {
      for (const step of steps) snapshotToPoints(snapshot(step), busIds, rec.start_ns, sink);
    });
    const loopManifest = await rec.close();
    const loopRate = Math.round(loopManifest.counts!.points / LOOP_SECONDS);
    console.log(
      `loop 1 kHz, recording every step (${loopRate.toLocaleString()} points/s to file + InfluxDB): ${recording.overruns} overruns, lateness p50 ${recording.lateness_p50_us} µs, p99 ${recording.lateness_p99_us} µs, max ${recording.lateness_max_us} µs`,
    );
    // The demo's default: a snapshot every 10 steps (100 Hz), to file only.
    const rec100 = await RunRecorder.open({ runsDir, scenario: 'bench-loop-100hz' });
    const sink100: PointSink = (m, tags, fields, t) => rec100.point(m, tags, fields, t);
    const recording100 = await benchLoop(runsDir, (steps) => {
      for (const step of steps)
        if (step % 10 === 0) snapshotToPoints(snapshot(step), busIds, rec100.start_ns, sink100);
    });
    const rate100 = Math.round((await rec100.close()).counts!.points / LOOP_SECONDS);
    console.log(
      `loop 1 kHz, recording at 100 Hz (${rate100.toLocaleString()} points/s to file): ${recording100.overruns} overruns, lateness p50 ${recording100.lateness_p50_us} µs, p99 ${recording100.lateness_p99_us} µs, max ${recording100.lateness_max_us} µs`,
    );
    const targets = { file_points_s: 500_000, server_points_s: 200_000 };
    console.log(
      `targets: file ≥ ${targets.file_points_s.toLocaleString()} (${file.file_points_s >= targets.file_points_s ? 'met' : 'NOT met'}), server ≥ ${targets.server_points_s.toLocaleString()} (InfluxDB 1.x ${influx1.points_s >= targets.server_points_s ? 'met' : 'NOT met'}, VictoriaMetrics ${victoria.points_s >= targets.server_points_s ? 'met' : 'NOT met'}), added overruns ${recording.overruns - idle.overruns}`,
    );
    console.log(
      JSON.stringify({
        bench: 'record',
        file,
        influxdb1_v1: influx1,
        victoriametrics_v2: victoria,
        loop_idle: idle,
        loop_recording: { ...recording, points_s: loopRate },
        loop_recording_100hz: { ...recording100, points_s: rate100 },
        added_overruns: recording.overruns - idle.overruns,
        targets,
      }),
    );
  } finally {
    await Promise.all([influx.dispose(), vm.dispose()]);
    await rm(runsDir, { recursive: true, force: true });
  }
}

await main();
