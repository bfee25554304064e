/**
 * The P2P market on the live bench, with real parts: the real-time loop process hosting the
 * registered `market` controller in a worker (agents, clearing, FID schedule, signed meters,
 * settlement on the embedded chain), the live server with prosumer tokens, socket.io clients reading
 * the raw messages, the run folder and `gridloop ledger verify` as a process. One bench serves the
 * whole file; the last test stops it.
 */
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readRun } from '../bench/recording/read-run.ts';
import { checkControllerSpecs } from '../bench/runtime/controllers/spec.ts';
import type {
  ClientToServerEvents,
  MarketLiveView,
  ProsumerView,
  ServerToClientEvents,
} from '../bench/server/api.ts';
import { type RunningBench, startBench } from '../bench/start-bench.ts';
import { type MeterReading, meterKeyOf, signReading } from '../market/metering.ts';
import { rawClient as liveRawClient } from './support/live-clients.ts';
import { budget, until } from './support/machine-speed.ts';

const repoRoot = join(import.meta.dirname, '..');
const TOKENS = {
  operator: 'operator-token-0123456789',
  house24: 'house-24-token-0123456789',
  house25: 'house-25-token-0123456789',
};
/** Short intervals so that a few are cleared, delivered and settled within seconds. */
const INTERVAL_S = 4;

/** Socket.io event packets of what only the whole bench's clients receive. */
const WHOLE_BENCH = /^2\["(state|events|topology|vpp|market)"/;

type Client = Socket<ServerToClientEvents, ClientToServerEvents>;

let bench: RunningBench;
const runsDir = mkdtempSync(join(tmpdir(), 'gridloop-market-live-'));
const clients: Client[] = [];
const savedEnv = { ...process.env };
/** Every market record an operator got from the start (the last test compares the run folder with it). */
const allMarkets: MarketLiveView[] = [];

beforeAll(async () => {
  const tokenFile = join(runsDir, 'tokens.yaml');
  writeFileSync(
    tokenFile,
    `tokens:
  - { role: operator, token: ${TOKENS.operator} }
  - { role: prosumer, token: ${TOKENS.house24}, prosumer: house-24 }
  - { role: prosumer, token: ${TOKENS.house25}, prosumer: house-25 }
`,
  );
  Object.assign(process.env, { GRIDLOOP_TOKEN_FILE: tokenFile });
  delete process.env.GRIDLOOP_INFLUX_URL;
  bench = await startBench({
    host: '127.0.0.1',
    port: 0,
    runsDir,
    seed: 1,
    dt_s: 0.01,
    record_hz: 10,
    devices: [],
    controllers: checkControllerSpecs(
      [
        {
          module: 'market',
          id: 'market',
          options: {
            interval_s: INTERVAL_S,
            gateClosure_s: 1,
            sample_s: 0.5,
            prosumers: { 'house-24': ['pv-24'], 'house-25': ['bess-25', 'load:MG3'] },
          },
          timeout_s: 30,
        },
      ],
      repoRoot,
    ),
    loop: { detectors: {} },
  });
  rawClient(TOKENS.operator).socket.on('market', (v) => allMarkets.push(v));
}, budget(120_000));

afterAll(async () => {
  for (const c of clients) c.close();
  await bench?.stop().catch(() => {});
  process.env = savedEnv;
  rmSync(runsDir, { recursive: true, force: true });
});

const rawClient = (token: string) => liveRawClient(bench.url, token, clients);

describe('the market on the live bench', { timeout: budget(180_000) }, () => {
  it('operators get the market; a prosumer gets its own orders, trades, deliveries and accounts and nobody else’s', async () => {
    const operator = rawClient(TOKENS.operator);
    const house24 = rawClient(TOKENS.house24);
    const markets: MarketLiveView[] = [];
    operator.socket.on('market', (v) => markets.push(v));
    const own: ProsumerView[] = [];
    house24.socket.on('prosumer', (v) => own.push(v));

    // An interval settled on the chain, its accounts read back, and house-24's view of it.
    const settled = await until(
      'a settled interval in the operator’s market view',
      () => {
        // A record in which every interval settled so far is still shown in full.
        for (const m of markets) {
          const settled = m.intervals.filter((x) => x.state === 'settled');
          if (settled.length > 0 && settled.length === m.ledger.settled && m.ledger.accounts['pv-24'])
            return { m, i: settled.at(-1)! };
        }
        return undefined;
      },
      90_000,
      50,
    );
    const { m, i } = settled;
    expect(m.market).toBe('market');
    expect(m.interval_s).toBe(INTERVAL_S);
    expect(m.ledger).toMatchObject({ state: 'live', authorities: 3 });
    expect(m.ledger.settled).toBeGreaterThanOrEqual(1);
    // The book across the three microgrids, one price each; the P2P trades balance (bought = sold).
    expect(i.prices.map((p) => p.microgrid).sort()).toEqual(['MG1', 'MG2', 'MG3']);
    const filled = (side: string) =>
      i.orders.filter((o) => o.side === side).reduce((s, o) => s + o.filled_wh, 0);
    expect(filled('buy')).toBe(i.volume_wh);
    expect(filled('sell')).toBe(i.volume_wh);
    expect(i.fids.map((f) => f.fid).sort()).toEqual(['fid-18-33', 'fid-25-29']);
    for (const f of i.fids) expect(f.delivered_wh).toEqual(expect.any(Number));
    // pv-24's account as the chain holds it, recomputed by hand from the intervals settled (all in
    // this record): start 10⁷ − 10⁶ units locked; per interval its trade (P2P and grid money), its
    // deviation with the grid (surplus at feed-in 50, shortfall at retail 250), and beyond the
    // tolerance 100 Wh + 5 % of its position a penalty of 100 micro-units per Wh from its deposit.
    const settledHere = m.intervals.filter((x) => x.state === 'settled');
    let balance = 10 ** 13 - 10 ** 12;
    let penalties = 0;
    let reputation = 0;
    for (const x of settledHere) {
      for (const o of x.orders.filter((o) => o.participant === 'pv-24'))
        balance += (o.side === 'sell' ? 1 : -1) * (o.amount + o.grid_amount);
      const d = x.deliveries.find((d) => d.participant === 'pv-24');
      if (!d) continue;
      const dev = d.metered_wh - d.cleared_wh;
      balance += dev >= 0 ? dev * 50 : dev * 250;
      const excess = Math.abs(dev) - 100 - Math.trunc((Math.abs(d.cleared_wh) * 50) / 1000);
      if (excess > 0) penalties += excess * 100;
      else reputation++;
    }
    expect(m.ledger.accounts['pv-24']).toEqual({
      balance,
      deposit: 10 ** 12 - penalties,
      debt: 0,
      penalties,
      reputation,
    });
    const participants = Object.keys(m.participants);
    expect(participants).toContain('pv-24');
    expect(m.participants['pv-24']).toEqual({ microgrid: 'MG1', prosumer: 'house-24' });

    // house-24's view of the same settled interval: pv-24's orders and delivery, its account.
    const view = await until(
      'house-24’s market view of that interval',
      () => {
        const v = own.at(-1);
        const mine = v?.market?.intervals.find((x) => x.intervalStart_s === i.intervalStart_s);
        return v && mine?.state === 'settled' && v.market?.accounts['pv-24'] ? { v, mine } : undefined;
      },
      20_000,
      50,
    );
    expect(view.v.prosumer).toBe('house-24');
    expect(view.v.market!.participants).toEqual({ 'pv-24': { microgrid: 'MG1' } });
    expect(view.mine.orders).toEqual(i.orders.filter((o) => o.participant === 'pv-24'));
    expect(view.mine.deliveries).toEqual(i.deliveries.filter((d) => d.participant === 'pv-24'));
    expect(view.mine.prices).toEqual({ MG1: i.prices.find((p) => p.microgrid === 'MG1')!.price });
    // Its meter: pv-24's live output only (no VPP in this run).
    expect(Object.keys(view.v.meter.units)).toEqual(['pv-24']);

    // On the wire: house-24 never got a whole-bench message, and not one message naming another
    // participant or prosumer.
    const others = participants.filter((p) => p !== 'pv-24');
    expect(others.length).toBeGreaterThan(5);
    expect(house24.raw.some((r) => r.startsWith('2["prosumer"') && r.includes('"market"'))).toBe(true);
    for (const message of house24.raw) {
      expect(message).not.toMatch(WHOLE_BENCH);
      for (const other of others) expect(message, message.slice(0, 200)).not.toContain(`"${other}`);
      expect(message).not.toContain('house-25');
    }
    // The operator, by contrast, got the whole market (so the checks above can match).
    expect(operator.raw.some((r) => r.startsWith('2["market"') && r.includes('"load:MG3"'))).toBe(true);
  });

  it('a prosumer with two participants sees both, and a late operator gets the last market view on connect', async () => {
    const house25 = rawClient(TOKENS.house25);
    const own: ProsumerView[] = [];
    house25.socket.on('prosumer', (v) => own.push(v));
    const v = await until('house-25’s market view', () => own.find((x) => x.market), 20_000, 50);
    expect(Object.keys(v.market!.participants)).toEqual(['bess-25', 'load:MG3']);
    for (const i of v.market!.intervals)
      for (const o of i.orders) expect(['bess-25', 'load:MG3']).toContain(o.participant);
    for (const message of house25.raw) {
      expect(message).not.toContain('"pv-24"');
      expect(message).not.toContain('house-24');
    }
    const late = rawClient(TOKENS.operator);
    const first = await new Promise<MarketLiveView>((resolve) => late.socket.once('market', resolve));
    expect(first.market).toBe('market');
  });

  it('records the market into the run folder as the telemetry said, refuses a forged and a replayed meter reading, and leaves a chain `gridloop ledger verify` holds', async () => {
    // Two intervals settled (so their readings' commitments are on the chain).
    const settledView = await until(
      'two settled intervals',
      () =>
        allMarkets.findLast((m) => m.ledger.settled >= 2 && m.intervals.some((i) => i.state === 'settled')),
      60_000,
      50,
    );
    const read = settledView.intervals.find((i) => i.state === 'settled')!;
    const number = Math.round(read.intervalStart_s / INTERVAL_S);
    // A forged reading for pv-24 (signed by a key that is not its meter's), and a replay of a reading
    // its meter really signed (the bench's key for it, from the ledger's seed) for an interval read.
    const reading: MeterReading = {
      meter: 'meter:pv-24',
      participant: 'pv-24',
      interval: number + 2,
      energy_wh: 5000,
      t_s: (number + 3) * INTERVAL_S,
    };
    const forged = signReading(reading, generateKeyPairSync('ed25519').privateKey);
    const replayed = signReading(
      { ...reading, interval: number, energy_wh: 1 },
      meterKeyOf('gridloop-live/market', 'meter:pv-24'),
    );
    expect(bench.controllerInput({ type: 'meter-reading', ...forged })).toBe(true);
    expect(bench.controllerInput({ type: 'meter-reading', ...replayed })).toBe(true);
    const refused = await until(
      'both readings refused in the market telemetry',
      () => {
        const last = allMarkets.at(-1)?.readingsRefused?.last ?? [];
        return last.length >= 2 ? last : undefined;
      },
      20_000,
      50,
    );
    expect(refused.map((r) => [r.meter, r.interval, r.reason, r.authority])).toEqual([
      ['meter:pv-24', number + 2, 'bad-signature', 0],
      ['meter:pv-24', number, 'replayed', 0],
    ]);
    expect(refused[0]!.message).toMatch(/signature does not verify/);
    // One more interval settled after them: its readings are the meters' own.
    const settledBefore = allMarkets.at(-1)!.ledger.settled;
    await until(
      'an interval settled after the refused readings',
      () => allMarkets.some((m) => m.ledger.settled > settledBefore),
      60_000,
      50,
    );
    await bench.stop();

    const run = await readRun(bench.runDir);
    const start_ns = BigInt(run.manifest.start_ns);
    const at = (t_s: number) => start_ns + BigInt(Math.round(t_s * 1e9));
    // A second line of a series at one instant is written a nanosecond later (the recorder's rule).
    const pointsOf = (measurement: string, t_s: number) =>
      run.points.filter(
        (p) => p.measurement === measurement && p.time_ns >= at(t_s) && p.time_ns < at(t_s) + 1000n,
      );
    // Every interval the operators saw delivered (its meters read), as the points hold it.
    const seen = new Map<number, MarketLiveView['intervals'][number]>();
    for (const m of allMarkets)
      for (const i of m.intervals) if ((i.readings?.length ?? 0) > 0) seen.set(i.intervalStart_s, i);
    expect(seen.size).toBeGreaterThanOrEqual(2);
    for (const i of seen.values()) {
      const where = `interval at ${i.intervalStart_s} s`;
      const intervals = pointsOf('market_interval', i.intervalStart_s);
      expect(intervals.map((p) => p.tags.microgrid).sort(), where).toEqual(['MG1', 'MG2', 'MG3']);
      for (const p of i.prices)
        expect(intervals.find((x) => x.tags.microgrid === p.microgrid)!.fields, where).toMatchObject({
          price: p.price,
          price_lo: p.lo,
          price_hi: p.hi,
          bought_wh: p.bought_wh,
          sold_wh: p.sold_wh,
          volume_wh: i.volume_wh,
        });
      const trades = pointsOf('market_trade', i.intervalStart_s);
      const byKey = (rows: (string | number)[][]) => rows.map((r) => JSON.stringify(r)).sort();
      expect(
        byKey(
          trades.map((t) => [
            String(t.tags.participant),
            String(t.tags.side),
            String(t.tags.microgrid),
            Number(t.fields.filled_wh),
            Number(t.fields.price),
            Number(t.fields.amount),
            Number(t.fields.grid_amount),
          ]),
        ),
        where,
      ).toEqual(
        byKey(
          i.orders.map((o) => [
            o.participant,
            o.side,
            o.microgrid,
            o.filled_wh,
            o.price,
            o.amount,
            o.grid_amount,
          ]),
        ),
      );
      const end = i.intervalStart_s + INTERVAL_S;
      const meters = pointsOf('market_meter', end);
      expect(i.readings!.length, where).toBe(Object.keys(settledView.participants).length);
      expect(meters, where).toHaveLength(i.readings!.length);
      for (const r of i.readings!) {
        const p = meters.find((x) => x.tags.participant === r.participant)!;
        expect(p.fields, `${where}, ${r.participant}`).toEqual({
          interval: BigInt(Math.round(i.intervalStart_s / INTERVAL_S)),
          energy_wh: BigInt(r.energy_wh),
          commitment: r.commitment,
        });
      }
      // A participant's metered energy is its meter's accepted reading.
      for (const d of i.deliveries)
        expect(d.metered_wh, `${where}, ${d.participant}`).toBe(
          i.readings!.find((r) => r.participant === d.participant)!.energy_wh,
        );
      const fids = pointsOf('market_fid', end);
      for (const f of i.fids)
        expect(fids.find((x) => x.tags.fid === f.fid)!.fields, where).toMatchObject({
          cleared_wh: f.cleared_wh,
          delivered_wh: f.delivered_wh,
          binding: f.binding,
        });
    }
    // The refused readings as chain points of the authority that refused them.
    const refusedPoints = run.points.filter(
      (p) => p.measurement === 'chain' && p.tags.outcome === 'reading-refused',
    );
    expect(
      refusedPoints.map((p) => [p.tags.authority, p.fields.proposer, String(p.fields.reason).split(':')[0]]),
    ).toEqual([
      ['authority0', 'meter:pv-24', 'bad-signature'],
      ['authority0', 'meter:pv-24', 'replayed'],
    ]);
    expect(run.points.some((p) => p.measurement === 'chain' && p.tags.outcome === 'accepted')).toBe(true);

    // The chain in the run folder, re-executed from genesis by `gridloop ledger verify` (a process).
    const verify = await new Promise<{ code: number | null; out: string }>((done) => {
      const child = spawn(process.execPath, ['bin/gridloop.mjs', 'ledger', 'verify', bench.runDir], {
        cwd: repoRoot,
      });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      child.on('close', (code) => done({ code, out }));
    });
    expect(verify.out).toMatch(/^ledger holds: \d+ blocks re-executed, \d+ accounts checked/);
    expect(verify.code).toBe(0);
  });
});
