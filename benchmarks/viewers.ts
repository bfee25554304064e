/**
 * npm run bench:viewers — does a classroom of live viewers disturb the real-time loop?
 *
 * Runs the demo grid's twin in its real-time loop process twice, for the same time each, with the
 * live server composed as `gridloop start` composes it: once with no viewers, once with 200
 * socket.io viewer clients on loopback subscribed at 20 Hz. The clients run in a child process of
 * their own and measure delivery latency from the server's `sent_ms` stamp. The bench process and
 * the clients are pinned to core 0 (taskset) after the loop process has forked, leaving it the
 * other core(s), as on a lab bench whose viewers browse from their own machines.
 * Reports the loop's lateness and overruns for both runs, the delivery latency, and the main
 * thread's event-loop delay. Ends with one JSON line.
 *
 * Also reports, half-way through, what the server says it delivered to each client
 * (LiveServer.stats) and how long a newcomer waits for its welcome.
 *
 * Options (environment): VIEWERS (200), RATE_HZ (20), RUN_S (10 per run).
 */
import { execFileSync, fork } from 'node:child_process';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { io as connect } from 'socket.io-client';
import type { LoopToHost, Snapshot } from '../bench/runtime/messages.ts';
import { RealtimeRun } from '../bench/runtime/realtime-run.ts';
import type { LiveState } from '../bench/server/api.ts';
import { startLiveServer } from '../bench/server/live-server.ts';
import { generateToken } from '../bench/server/tokens.ts';
import { topologyFromGrid } from '../bench/server/topology.ts';
import { LiveStateBuilder, liveEventOf } from '../bench/server/twin-bridge.ts';
import { loadGridFile } from '../twin/files.ts';

const VIEWERS = Number(process.env.VIEWERS ?? 200);
const RATE_HZ = Number(process.env.RATE_HZ ?? 20);
const RUN_S = Number(process.env.RUN_S ?? 10);
const GRID = join(import.meta.dirname, '..', 'grids', 'demo-33bw-microgrids.yaml');
const DT_S = 0.001;

/** The wall clock the server stamps `sent_ms` with (timeOrigin + now() drifts from it over a run). */
const wallNow = () => Date.now();

/**
 * CPU affinity (taskset, every thread of `pid`). The bench and the viewer stand-ins share core 0
 * and leave the other cores to the real-time loop, as a lab runs it (viewers' browsers are on
 * other machines). Returns false where taskset is unavailable or refused.
 */
function pin(pid: number, cpus: string): boolean {
  try {
    execFileSync('taskset', ['-a', '-p', '-c', cpus, String(pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const ALL_CPUS = `0-${availableParallelism() - 1}`;
let pinned = availableParallelism() > 1;

function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

// ---- child process: the viewers ----

interface ClientReport {
  connected: number;
  states: number;
  latency_ms: { p50: number; p99: number; max: number };
  perClientRate_hz: { min: number; mean: number };
  disconnects: number;
  /** Event-loop delay p99 of the client process itself: latency beyond it is not the server's. */
  clientDelay_p99_ms: number;
}

async function runViewers(url: string, token: string, count: number, rate_hz: number): Promise<void> {
  const latencies = new Float64Array(count * rate_hz * (RUN_S + 30));
  let n = 0;
  let measuring = false;
  let disconnects = 0;
  const perClient = new Uint32Array(count);
  const clientDelay = monitorEventLoopDelay({ resolution: 5 });
  const sockets = Array.from({ length: count }, (_, i) => {
    const socket = connect(url, {
      transports: ['websocket'],
      auth: { token },
      reconnection: false,
      forceNew: true,
    });
    socket.on('welcome', () => socket.emit('subscribe', { rate_hz }));
    socket.on('state', (state: LiveState) => {
      if (!measuring || state.sent_ms === undefined) return;
      if (n < latencies.length) latencies[n++] = wallNow() - state.sent_ms;
      perClient[i]++;
    });
    socket.on('disconnect', () => disconnects++);
    return socket;
  });
  const send = (message: unknown) => process.send?.(message);
  const deadline = Date.now() + 30_000;
  while (sockets.some((s) => !s.connected) && Date.now() < deadline)
    await new Promise((r) => setTimeout(r, 50));
  send({ type: 'connected', count: sockets.filter((s) => s.connected).length });
  process.on('message', (message: { type: string }) => {
    if (message.type === 'start') {
      measuring = true;
      clientDelay.enable();
      n = 0;
      perClient.fill(0);
      disconnects = 0;
    } else if (message.type === 'report') {
      measuring = false;
      clientDelay.disable();
      const sorted = latencies.slice(0, n).sort();
      const rates = Array.from(perClient, (c) => c / RUN_S);
      const report: ClientReport = {
        connected: sockets.filter((s) => s.connected).length,
        states: n,
        latency_ms: {
          p50: quantile(sorted, 0.5),
          p99: quantile(sorted, 0.99),
          max: sorted[n - 1] ?? Number.NaN,
        },
        perClientRate_hz: { min: Math.min(...rates), mean: rates.reduce((a, b) => a + b, 0) / count },
        disconnects,
        clientDelay_p99_ms: clientDelay.percentile(99) / 1e6,
      };
      send({ type: 'report', report });
      for (const s of sockets) s.close();
      setTimeout(() => process.exit(0), 100);
    }
  });
}

// ---- parent: loop + server, twice ----

interface LoopFigures {
  steps: number;
  overruns: number;
  lateness_p99_us: number;
  lateness_max_us: number;
  work_p99_us: number;
  /** Where the lateness figures come from: the loop's own summary over every step, or sampled snapshots. */
  source: 'loop-summary' | 'snapshots';
  mainThreadDelay_p99_ms: number;
  /** CPU the bench's main process (server, state building) used per wall second, ms. */
  mainCpu_ms_per_s: number;
  /** JSON size of one state of this grid, bytes. */
  stateBytes: number;
}

async function measureRun(
  withViewers: boolean,
): Promise<{ loop: LoopFigures; clients?: ClientReport; served?: ServedFigures }> {
  // Children inherit affinity at fork: free the bench before it forks the loop.
  if (pinned) pinned = pin(process.pid, ALL_CPUS);
  const { grid, config } = await loadGridFile(GRID);
  const topology = topologyFromGrid(grid, { hardware: config.hardware });
  const viewerToken = generateToken();
  const server = await startLiveServer({
    port: 0,
    tokens: [{ role: 'viewer', token: viewerToken }],
    topology,
    // Each client is one connection's worth of packets; the defaults already fit 200 viewers.
  });
  let clients: ReturnType<typeof fork> | undefined;
  if (withViewers) {
    clients = fork(
      import.meta.filename,
      ['clients', server.url, viewerToken, String(VIEWERS), String(RATE_HZ)],
      {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    if (pinned && clients.pid) pinned = pin(clients.pid, '0');
    const connected = await new Promise<number>((resolve) =>
      clients!.on(
        'message',
        (m: { type: string; count: number }) => m.type === 'connected' && resolve(m.count),
      ),
    );
    console.log(`  ${connected}/${VIEWERS} viewers connected at ${RATE_HZ} Hz`);
  }

  const builder = new LiveStateBuilder(topology);
  let lastState: LiveState | undefined;
  const sampled: number[] = [];
  const sampledWork: number[] = [];
  let firstOverruns: number | undefined;
  let lastOverruns = 0;
  let steps = 0;
  const run = new RealtimeRun({
    twin: { grid: GRID, seed: 1, dt_s: DT_S },
    devices: [],
    snapshotEvery: 10,
    overrunPolicy: 'continue',
    duration_s: RUN_S + 1,
  });
  // The loop has forked with every core; the bench (server, state building) moves to core 0.
  if (pinned) pinned = pin(process.pid, '0');
  run.on('message', (message: LoopToHost) => {
    if (message.type !== 'batch') return;
    let latest: Snapshot | undefined;
    for (const snapshot of message.snapshots) {
      builder.absorb(snapshot);
      latest = snapshot;
      // The first second warms up (JIT, first solves) and is left out of the figures.
      if (snapshot.t_s < 1) continue;
      firstOverruns ??= snapshot.loop.overruns;
      lastOverruns = snapshot.loop.overruns;
      sampled.push(snapshot.loop.lateness_us);
      sampledWork.push(snapshot.loop.work_us);
      steps = snapshot.step;
    }
    for (const event of message.events) server.publishEvent(liveEventOf(event));
    if (latest) {
      lastState = builder.build(latest);
      server.publishState(lastState);
    }
  });
  await run.ready;
  const delay = monitorEventLoopDelay({ resolution: 5 });
  // Measure once the warm-up second has passed.
  await new Promise((r) => setTimeout(r, 1000));
  delay.enable();
  clients?.send({ type: 'start' });
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  // Half-way: how long a newcomer waits for its welcome, and the server's own per-client figures.
  let served: ServedFigures | undefined;
  const halfway = setTimeout(
    async () => {
      const connect_ms = await timeToWelcome(server.url, viewerToken);
      const rates = server
        .stats()
        .map((c) => c.delivered_hz)
        .filter(Number.isFinite)
        .sort((a, b) => a - b);
      served = {
        connect_ms,
        clients: rates.length,
        delivered_hz: {
          min: rates[0] ?? Number.NaN,
          p50: quantile(rates, 0.5),
          mean: rates.reduce((a, b) => a + b, 0) / rates.length,
        },
      };
    },
    (RUN_S * 1000) / 2,
  );
  const end = await run.finished;
  clearTimeout(halfway);
  const cpu = process.cpuUsage(cpu0);
  const mainCpu_ms_per_s = (cpu.user + cpu.system) / 1000 / ((performance.now() - wall0) / 1000);
  delay.disable();
  let clientReport: ClientReport | undefined;
  if (clients) {
    const child = clients;
    clientReport = await new Promise<ClientReport>((resolve) => {
      child.on(
        'message',
        (m: { type: string; report: ClientReport }) => m.type === 'report' && resolve(m.report),
      );
      child.send({ type: 'report' });
    });
  }
  await run.stop();
  await server.close();
  const stateBytes = Buffer.byteLength(JSON.stringify({ ...lastState, sent_ms: Date.now() }));
  if (end.type === 'error') throw new Error(`the real-time loop failed: ${end.message}`);

  const summary = (
    end as {
      timing?: {
        overruns: number;
        steps: number;
        lateness_us: { p99: number; max: number };
        work_us: { p99: number };
      };
    }
  ).timing;
  const sortedLate = sampled.sort((a, b) => a - b);
  const sortedWork = sampledWork.sort((a, b) => a - b);
  const loop: LoopFigures = summary
    ? {
        steps: summary.steps,
        overruns: summary.overruns,
        lateness_p99_us: summary.lateness_us.p99,
        lateness_max_us: summary.lateness_us.max,
        work_p99_us: summary.work_us.p99,
        source: 'loop-summary',
        mainThreadDelay_p99_ms: delay.percentile(99) / 1e6,
        mainCpu_ms_per_s,
        stateBytes,
      }
    : {
        steps,
        overruns: lastOverruns - (firstOverruns ?? 0),
        lateness_p99_us: quantile(sortedLate, 0.99),
        lateness_max_us: sortedLate[sortedLate.length - 1] ?? Number.NaN,
        work_p99_us: quantile(sortedWork, 0.99),
        source: 'snapshots',
        mainThreadDelay_p99_ms: delay.percentile(99) / 1e6,
        mainCpu_ms_per_s,
        stateBytes,
      };
  return { loop, clients: clientReport, served };
}

/** What the server reports of its clients (LiveServer.stats) and a newcomer's wait, mid-run. */
interface ServedFigures {
  /** A new client's wait from connect() to its welcome, ms. */
  connect_ms: number;
  clients: number;
  /** States each client was sent per second, as the server counts them. */
  delivered_hz: { min: number; p50: number; mean: number };
}

function timeToWelcome(url: string, token: string): Promise<number> {
  const started = performance.now();
  return new Promise((resolve) => {
    const socket = connect(url, {
      transports: ['websocket'],
      auth: { token },
      reconnection: false,
      forceNew: true,
    });
    const done = (ms: number) => {
      socket.close();
      resolve(ms);
    };
    socket.once('welcome', () => done(performance.now() - started));
    socket.once('connect_error', () => done(Number.NaN));
  });
}

const round = (x: number, digits = 1) => (Number.isFinite(x) ? Number(x.toFixed(digits)) : null);

async function main(): Promise<void> {
  console.log(
    `bench:viewers — demo grid, 1 ms steps, ${RUN_S} s per run, ${VIEWERS} viewers at ${RATE_HZ} Hz`,
  );
  console.log(
    `  load average ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')} on ${availableParallelism()} cores`,
  );
  console.log(
    pinned
      ? '  bench and viewer clients pinned to core 0 (taskset); the loop process free on every core'
      : '  not pinned (one core, or taskset unavailable): everything shares every core',
  );
  console.log('run 1: no viewers');
  const without = await measureRun(false);
  console.log(
    `  loop: ${without.loop.overruns} overruns, lateness p99 ${round(without.loop.lateness_p99_us)} µs, max ${round(without.loop.lateness_max_us)} µs (${without.loop.source}); main-thread delay p99 ${round(without.loop.mainThreadDelay_p99_ms, 2)} ms`,
  );
  console.log(`  main process CPU ${round(without.loop.mainCpu_ms_per_s)} ms/s`);
  console.log(`run 2: ${VIEWERS} viewers`);
  const withViewers = await measureRun(true);
  const c = withViewers.clients!;
  console.log(
    `  loop: ${withViewers.loop.overruns} overruns, lateness p99 ${round(withViewers.loop.lateness_p99_us)} µs, max ${round(withViewers.loop.lateness_max_us)} µs (${withViewers.loop.source}); main-thread delay p99 ${round(withViewers.loop.mainThreadDelay_p99_ms, 2)} ms`,
  );
  console.log(
    `  one state: ${withViewers.loop.stateBytes} bytes of JSON; client process event-loop delay p99 ${round(c.clientDelay_p99_ms, 1)} ms (part of the latency below is the clients' own backlog)`,
  );
  console.log(
    `  delivery: ${c.states} states, latency p50 ${round(c.latency_ms.p50, 2)} ms, p99 ${round(c.latency_ms.p99, 2)} ms, max ${round(c.latency_ms.max, 2)} ms; per-client rate mean ${round(c.perClientRate_hz.mean)} Hz, min ${round(c.perClientRate_hz.min)} Hz; ${c.disconnects} disconnects`,
  );
  console.log(
    `  main process CPU ${round(withViewers.loop.mainCpu_ms_per_s)} ms/s (server: one encode per rate, one frame write per viewer)`,
  );
  const served = withViewers.served;
  if (served) {
    console.log(
      `  server's count: ${served.clients} clients sent min ${round(served.delivered_hz.min)} Hz, median ${round(served.delivered_hz.p50)} Hz, mean ${round(served.delivered_hz.mean)} Hz (of ${RATE_HZ} asked); a new client waited ${round(served.connect_ms)} ms for its welcome`,
    );
  }
  const added = withViewers.loop.overruns - without.loop.overruns;
  console.log(added <= 0 ? 'target met: no added overruns' : `target MISSED: ${added} added overruns`);
  console.log(
    JSON.stringify({
      bench: 'viewers',
      viewers: VIEWERS,
      rate_hz: RATE_HZ,
      run_s: RUN_S,
      connected: c.connected,
      delivery_p50_ms: round(c.latency_ms.p50, 2),
      delivery_p99_ms: round(c.latency_ms.p99, 2),
      delivery_max_ms: round(c.latency_ms.max, 2),
      state_bytes: withViewers.loop.stateBytes,
      per_client_rate_hz: round(c.perClientRate_hz.mean, 2),
      min_client_rate_hz: round(c.perClientRate_hz.min, 2),
      disconnects: c.disconnects,
      served_min_rate_hz: round(served?.delivered_hz.min ?? Number.NaN, 2),
      served_median_rate_hz: round(served?.delivered_hz.p50 ?? Number.NaN, 2),
      served_mean_rate_hz: round(served?.delivered_hz.mean ?? Number.NaN, 2),
      new_client_connect_ms: round(served?.connect_ms ?? Number.NaN),
      client_delay_p99_ms: round(c.clientDelay_p99_ms, 1),
      overruns_without: without.loop.overruns,
      overruns_with: withViewers.loop.overruns,
      added_overruns: added,
      lateness_p99_us_without: round(without.loop.lateness_p99_us),
      lateness_p99_us_with: round(withViewers.loop.lateness_p99_us),
      lateness_max_us_without: round(without.loop.lateness_max_us),
      lateness_max_us_with: round(withViewers.loop.lateness_max_us),
      main_delay_p99_ms_without: round(without.loop.mainThreadDelay_p99_ms, 2),
      main_delay_p99_ms_with: round(withViewers.loop.mainThreadDelay_p99_ms, 2),
      main_cpu_ms_per_s_without: round(without.loop.mainCpu_ms_per_s),
      main_cpu_ms_per_s_with: round(withViewers.loop.mainCpu_ms_per_s),
      load_average_1m: round(loadavg()[0], 2),
      lateness_source: withViewers.loop.source,
      pinned,
    }),
  );
}

if (process.argv[2] === 'clients') {
  const [, , , url, token, count, rate] = process.argv;
  runViewers(url, token, Number(count), Number(rate)).catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err) => {
    console.error(`bench:viewers failed: ${err instanceof Error ? err.message : err}`);
    process.exit(3);
  });
}
