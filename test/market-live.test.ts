/**
 * The P2P market on the live bench, with real parts: the real-time loop process hosting the
 * registered `market` controller in a worker (agents, clearing, FID schedule, settlement on the
 * embedded chain), the live server with prosumer tokens, and socket.io clients reading the raw
 * messages. One bench serves the whole file.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Socket } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkControllerSpecs } from '../bench/runtime/controllers/spec.ts';
import type {
  ClientToServerEvents,
  MarketLiveView,
  ProsumerView,
  ServerToClientEvents,
} from '../bench/server/api.ts';
import { type RunningBench, startBench } from '../bench/start-bench.ts';
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
});
