/**
 * The VPP on the live bench, with real parts: the real-time loop process hosting the `vpp`
 * controller in a worker, the hardware battery slot as a VPP member over a socat pseudo-terminal
 * to the emulated C battery board, the live server with prosumer tokens, and a loopback InfluxDB 1.x.
 *
 * One bench serves the whole file (it is the expensive part): prosumer filtering and preferences
 * while it runs, then the recording (run folder and InfluxDB) once it has stopped.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openPtyPair, type PtyPair } from '../bench/devices/transport.ts';
import { readRunPoints } from '../bench/recording/index.ts';
import type { Point } from '../bench/recording/line-protocol.ts';
import { checkControllerSpecs } from '../bench/runtime/controllers/spec.ts';
import type { PreferencesResult, ProsumerView, VppLiveView } from '../bench/server/api.ts';
import { type RunningBench, startBench } from '../bench/start-bench.ts';
import { type EmulatedBoard, startEmulatedBoard } from '../firmware-protocol/host/boards.ts';
import { allQueries, readGenerated, shapeOf } from './dashboards-structure.ts';
import { type Influxdb1Server, startInfluxdb1 } from './servers/index.ts';
import {
  type LiveClient,
  rawClient as liveRawClient,
  PROSUMER_TOKENS,
  useProsumerTokens,
} from './support/live-clients.ts';
import { budget, until, waitFor } from './support/machine-speed.ts';

const repoRoot = join(import.meta.dirname, '..');
const TOKENS = PROSUMER_TOKENS;
/** Members of vpp/portfolios/demo-33bw-live.yaml, and which prosumer each belongs to. */
const MEMBERS = ['chp-4', 'fc-20', 'pv-24', 'load-24', 'bess-25', 'bess-hw'];
/** Everything house-24 must never hear of: the other members and prosumers, and the grid's other units. */
const NOT_HOUSE_24 = [
  'chp-4',
  'fc-20',
  'bess-25',
  'bess-hw',
  'house-25',
  'lab-hw',
  'diesel-7',
  'pv-14',
  'bess-10',
];
/** The battery board's firmware (battery.c): 5 kW rated, 5 % droop on 50 Hz; 5 kW stands for 0.1 MW. */
const BOARD_DROOP = 0.05;
const SLOT_MW = 0.1;
const TARGET: [number, number][] = [
  [0, 1.0],
  [3, 1.3],
];
const PERIOD_S = 0.5;

/** Socket.io event packets (engine.io message text) of what only the whole bench's clients receive. */
const WHOLE_BENCH = /^2\["(state|events|topology|vpp)"/;

type Client = LiveClient;

let influx: Influxdb1Server;
let pair: PtyPair;
let board: EmulatedBoard;
let bench: RunningBench;
const runsDir = mkdtempSync(join(tmpdir(), 'gridloop-vpp-live-'));
const clients: Client[] = [];
const savedEnv = { ...process.env };

beforeAll(async () => {
  influx = await startInfluxdb1();
  await influx.createDatabase('gridloop');
  pair = await openPtyPair();
  board = await startEmulatedBoard('battery', { device: pair.b });
  useProsumerTokens(runsDir);
  Object.assign(process.env, {
    GRIDLOOP_INFLUX_URL: influx.url,
    GRIDLOOP_INFLUX_API: 'v1',
    GRIDLOOP_INFLUX_DB: 'gridloop',
  });
  bench = await startBench({
    host: '127.0.0.1',
    port: 0,
    runsDir,
    seed: 1,
    dt_s: 0.001,
    record_hz: 50,
    devices: [
      {
        id: 'bess-hw',
        path: pair.a,
        bus: '18',
        rating_mva: SLOT_MW,
        powerScale: (SLOT_MW * 1e6) / 5000,
        exchangeEvery: 10,
        // Ride through a loaded machine's stalls: this file is about the VPP, not supervision.
        missedBeforeOffline: 50,
      },
    ],
    controllers: checkControllerSpecs(
      [
        {
          module: 'vpp',
          id: 'vpp',
          options: { portfolio: 'vpp/portfolios/demo-33bw-live.yaml', target: TARGET, period_s: PERIOD_S },
        },
      ],
      repoRoot,
    ),
    loop: { detectors: {} },
  });
}, budget(120_000));

afterAll(async () => {
  for (const c of clients) c.close();
  await bench?.stop().catch(() => {});
  await board?.stop().catch(() => {});
  await pair?.stop().catch(() => {});
  await influx?.dispose();
  process.env = savedEnv;
  rmSync(runsDir, { recursive: true, force: true });
});

const rawClient = (token: string) => liveRawClient(bench.url, token, clients);

const sendPreferences = (socket: Client, preferences: unknown) =>
  new Promise<PreferencesResult>((resolve) =>
    socket.emit('preferences', preferences as never, (result) => resolve(result)),
  );

describe('VPP on the live bench', { timeout: budget(180_000) }, () => {
  it('a prosumer receives its own meter, price and schedule and nobody else’s; its preferences reach the VPP', async () => {
    const operator = rawClient(TOKENS.operator);
    const house24 = rawClient(TOKENS.house24);
    const house25 = rawClient(TOKENS.house25);
    const vppViews: VppLiveView[] = [];
    operator.socket.on('vpp', (v) => vppViews.push(v));
    const own: ProsumerView[] = [];
    house24.socket.on('prosumer', (v) => own.push(v));
    await waitFor('a VPP decision and a prosumer view', () => vppViews.length > 0 && own.length > 1, 60_000);

    // Its own units only: the meter sums them; price and schedule are the VPP's.
    const view = own.at(-1)!;
    expect(view.prosumer).toBe('house-24');
    expect(Object.keys(view.meter.units).sort()).toEqual(['load-24', 'pv-24']);
    expect(Object.keys(view.schedule).sort()).toEqual(['load-24', 'pv-24']);
    expect(view.meter.p_mw).toBeCloseTo(
      view.meter.units['pv-24']!.p_mw + view.meter.units['load-24']!.p_mw,
      12,
    );
    expect(view.price_per_mwh).toEqual(expect.any(Number));

    // Its preferences reach the VPP: opted out, its units get no set-point from the next decision.
    const optOut = await sendPreferences(house24.socket, { opt_out: true });
    expect(optOut).toMatchObject({ ok: true });
    const after = await until(
      'a decision with house-24 opted out',
      () => vppViews.find((v) => v.members.find((m) => m.id === 'pv-24')?.opted_out),
      20_000,
    );
    for (const id of ['pv-24', 'load-24']) {
      expect(after.members.find((m) => m.id === id)).toMatchObject({ opted_out: true, setpoint_mw: null });
    }
    await waitFor(
      'house-24 sees its preferences in force',
      () => own.at(-1)?.preferences?.opt_out === true,
      20_000,
    );
    expect(own.at(-1)!.schedule).toEqual({ 'pv-24': null, 'load-24': null });

    // Bad preference messages get a clear error naming the field, and nothing breaks.
    const bad: [unknown, RegExp][] = [
      ['reserve please', /^preferences\/: must be an object/],
      [[0.5], /^preferences\/: must be an object/],
      [
        { battery_reserve: 1.5 },
        /^preferences\/battery_reserve: must be a state of charge within 0…1, got 1\.5$/,
      ],
      [
        { flexible_window: { start_h: 25, end_h: 3 } },
        /^preferences\/flexible_window\/start_h: must be an hour/,
      ],
      [{ opt_out: 'yes' }, /^preferences\/opt_out: must be true or false/],
      [{ colour: 'red' }, /^preferences\/colour: unknown field/],
    ];
    for (const [message, reason] of bad) {
      const result = await sendPreferences(house25.socket, message);
      expect(result.ok, JSON.stringify(message)).toBe(false);
      if (result.ok) continue;
      expect(result.code).toBe('invalid');
      expect(result.reason).toMatch(reason);
    }
    // Only prosumers set preferences; prosumers send no commands.
    expect(await sendPreferences(operator.socket, { opt_out: true })).toMatchObject({
      ok: false,
      code: 'forbidden',
    });
    const command = await new Promise((resolve) =>
      house25.socket.emit('command', { type: 'emergency-stop' }, resolve),
    );
    expect(command).toMatchObject({ ok: false, code: 'forbidden' });

    // Still serving, and a good message still works: a 90 % reserve above its 60 % charge leaves the
    // VPP nothing to discharge from house-25's battery.
    expect(await sendPreferences(house25.socket, { battery_reserve: 0.9 })).toMatchObject({ ok: true });
    // The decision in flight when it arrived may not have it yet; the one after must.
    const from = vppViews.length;
    const reserved = await until('two decisions after the reserve', () => vppViews[from + 1], 20_000);
    const bess25 = reserved.members.find((m) => m.id === 'bess-25')!;
    expect(bess25.setpoint_mw).not.toBeNull();
    expect(bess25.setpoint_mw!).toBeLessThanOrEqual(1e-9);

    // On the wire: house-24 got its welcome and its own views, never a state, event, grid or VPP
    // message, and not one message naming another member or prosumer.
    expect(house24.raw.length).toBeGreaterThan(2);
    for (const message of house24.raw) {
      expect(message).not.toMatch(WHOLE_BENCH);
      for (const other of NOT_HOUSE_24) expect(message, message.slice(0, 200)).not.toContain(`"${other}"`);
      expect(message).not.toContain('house-25');
    }
    expect(house24.raw.some((m) => m.startsWith('2["prosumer"'))).toBe(true);
    // The operator, by contrast, sees the whole bench and VPP (so the checks above can match).
    expect(operator.raw.some((m) => WHOLE_BENCH.test(m))).toBe(true);
    expect(
      vppViews
        .at(-1)!
        .members.map((m) => m.id)
        .sort(),
    ).toEqual([...MEMBERS].sort());
  });

  it('records VPP points in the run folder and InfluxDB; the hardware slot follows its set-points through the device link', async () => {
    // Long enough for the target step at 3 s and a few decisions after it.
    let t_s = 0;
    rawClient(TOKENS.operator).socket.on('vpp', (v) => {
      t_s = v.t_s;
    });
    await waitFor('twin time past 5 s', () => t_s > 5, 60_000);
    const runDir = bench.runDir;
    await bench.stop();
    const points = await readRunPoints(runDir);
    const manifest = JSON.parse(readFileSync(join(runDir, 'manifest.json'), 'utf8')) as { start_ns: string };
    const start_ns = BigInt(manifest.start_ns);
    const vpp = points.filter((p) => p.measurement === 'vpp');
    const members = points.filter((p) => p.measurement === 'vpp_member');
    expect(vpp.length).toBeGreaterThanOrEqual(8);
    expect(members.length).toBe(vpp.length * MEMBERS.length);
    for (const p of vpp) {
      const at_s = Number(p.time_ns - start_ns) / 1e9;
      expect(p.tags.vpp).toBe('live');
      // The configured target steps, at the twin time of each decision.
      if (Math.abs(at_s - 3) > 0.01) expect(p.fields.target_mw).toBe(at_s < 3 ? 1.0 : 1.3);
      expect(p.fields.flex_pmin_mw as number).toBeLessThanOrEqual(p.fields.flex_pmax_mw as number);
    }
    // Delivered is the sum of the members' measured outputs of the same decision.
    for (const p of vpp) {
      const same = members.filter((m) => m.time_ns === p.time_ns);
      expect(same.length).toBe(MEMBERS.length);
      const sum = same.reduce((s, m) => s + (m.fields.measured_mw as number), 0);
      expect(p.fields.delivered_mw as number).toBeCloseTo(sum, 9);
    }
    // Prosumer tags: what filtering dashboards and market views use.
    const prosumerOf = new Map(members.map((m) => [m.tags.member, m.tags.prosumer]));
    expect(Object.fromEntries(prosumerOf)).toEqual({
      'chp-4': undefined,
      'fc-20': undefined,
      'pv-24': 'house-24',
      'load-24': 'house-24',
      'bess-25': 'house-25',
      'bess-hw': 'lab-hw',
    });

    // The hardware slot: its set-points go to the board over the serial link, and what the VPP sees
    // is the board's measured answer. Its firmware adds its droop to the set-point, clamped at its
    // rating: P = clamp(p_set − Δf/(R·f0)·P_rated), which the recorded island frequency gives.
    const hw = members.filter((m) => m.tags.member === 'bess-hw').sort(byTime);
    expect(hw.every((m) => m.fields.hardware === true)).toBe(true);
    const f = points.filter(
      (p) => p.measurement === 'island' && p.tags.island === islandOf(points, 'bess-hw'),
    );
    let compared = 0;
    let followed = 0;
    for (let k = 1; k < hw.length; k++) {
      const setpoint = hw[k - 1]!.fields.setpoint_mw as number | undefined;
      const measured = hw[k]!.fields.measured_mw as number;
      if (setpoint === undefined) continue;
      // Tracking error recorded = measured − the set-point in force over the period that ended.
      expect(hw[k]!.fields.tracking_error_mw as number).toBeCloseTo(measured - setpoint, 12);
      const fNow = nearest(f, hw[k]!.time_ns)?.fields.f_hz as number;
      const droop = (-(fNow - 50) / (BOARD_DROOP * 50)) * SLOT_MW;
      const expected = Math.min(Math.max(setpoint + droop, -SLOT_MW), SLOT_MW);
      compared++;
      // 2 % of the slot: the frequency moves a little between the board's last answer and the sample.
      if (Math.abs(measured - expected) < 0.02 * SLOT_MW) followed++;
    }
    expect(compared).toBeGreaterThanOrEqual(6);
    // A loaded machine may stall one exchange past a decision; the board still followed nearly always.
    expect(followed / compared).toBeGreaterThanOrEqual(0.8);
    // The set-points really changed over the run (the target step moved the slot), so following them is not trivial.
    const setpoints = new Set(hw.map((m) => (m.fields.setpoint_mw as number | undefined)?.toFixed(3)));
    expect(setpoints.size).toBeGreaterThan(1);

    // InfluxDB holds the same points.
    const count = async (q: string) =>
      (await influx.query(q, 'gridloop')).reduce((s, series) => s + Number(series.values[0]![1]), 0);
    expect(await count('SELECT count(target_mw) FROM vpp')).toBe(vpp.length);
    expect(await count('SELECT count(measured_mw) FROM vpp_member')).toBe(members.length);
    expect(
      await count(`SELECT count(setpoint_mw) FROM vpp_member WHERE member = 'bess-hw' AND hardware = true`),
    ).toBe(hw.filter((m) => m.fields.setpoint_mw !== undefined).length);

    // The VPP dashboard on these points: every panel query, substituted as Grafana does, returns
    // series of the measurement it names, with its columns, none all null.
    const vppDashboard = readGenerated().find((d) => d.file === 'gridloop-vpp.json')!;
    const queries = allQueries(vppDashboard.json);
    // Eight panels and the Run events annotation.
    expect(queries.length).toBe(9);
    const run = runDir.slice(runDir.lastIndexOf('/') + 1);
    const times = points.map((p) => p.time_ns).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    const from_ms = times[0]! / 1_000_000n;
    const to_ms = times.at(-1)! / 1_000_000n + 1n;
    for (const q of queries) {
      const shape = shapeOf(q.query);
      for (const prosumer of ['.*', 'house-24']) {
        const sql = q.query
          .replaceAll('$timeFilter', `time >= ${from_ms}ms and time <= ${to_ms}ms`)
          .replaceAll('$__interval', '500ms')
          .replaceAll('$run', run)
          .replaceAll('$prosumer', prosumer);
        const series = await influx.query(sql, 'gridloop');
        expect(series.length, `${q.where}: ${sql}`).toBeGreaterThan(0);
        for (const s of series) {
          expect(s.name).toBe(shape.measurement);
          expect(s.columns).toEqual(['time', ...shape.columns]);
          for (let i = 1; i < s.columns.length; i++)
            expect(
              s.values.some((row) => row[i] !== null),
              `${q.where} column ${s.columns[i]}`,
            ).toBe(true);
        }
        // Narrowed to a prosumer, the member panels show that prosumer's units only.
        if (shape.measurement === 'vpp_member' && prosumer === 'house-24')
          expect(series.map((s) => s.tags?.member).sort()).toEqual(['load-24', 'pv-24']);
      }
    }
  });
});

const byTime = (a: Point, b: Point) => (a.time_ns < b.time_ns ? -1 : a.time_ns > b.time_ns ? 1 : 0);
function nearest(points: Point[], time_ns: bigint): Point | undefined {
  let best: Point | undefined;
  let bestD = Infinity;
  for (const p of points) {
    const d = Math.abs(Number(p.time_ns - time_ns));
    if (d < bestD) {
      bestD = d;
      best = p;
    }
  }
  return best;
}
/** The island of a device's bus, from the recorded bus points (the device's bus is 18). */
function islandOf(points: Point[], _device: string): string {
  return points.find((p) => p.measurement === 'bus' && p.tags.bus === '18')!.tags.island as string;
}
