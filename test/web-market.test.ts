/**
 * The live page's market panel (operator view) and a prosumer's market section, in headless chromium
 * against a real live server fed market telemetry through the server's own view builders
 * (bench/server/market-views.ts). What the page shows is checked against the socket messages a
 * second client received. Screenshots go to test-artifacts/web/.
 */
import type { Browser, Page } from 'playwright-core';
import { io as connect, type Socket } from 'socket.io-client';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type {
  ClientToServerEvents,
  MarketLiveView,
  ProsumerView,
  ServerToClientEvents,
} from '../bench/server/api.ts';
import { type LiveServer, startLiveServer } from '../bench/server/live-server.ts';
import { marketLiveViewOf, withMarket } from '../bench/server/market-views.ts';
import type { MarketIntervalTelemetry, MarketTelemetry } from '../market/telemetry.ts';
import { until } from './support/machine-speed.ts';
import { launchChromium, screenshot, watchErrors } from './web-browser.ts';

const TOKENS = { operator: 'operator-token-0123456789', house24: 'house-24-token-0123456789' };
const INTERVAL_S = 60;
const PARTICIPANTS: MarketTelemetry['participants'] = {
  'pv-24': { microgrid: 'MG1', prosumer: 'house-24' },
  'bess-25': { microgrid: 'MG1', prosumer: 'house-25' },
  'chp-4': { microgrid: 'MG1' },
  'load:MG1': { microgrid: 'MG1' },
  'diesel-7': { microgrid: 'MG2' },
  'load:MG2': { microgrid: 'MG2' },
};

/** Interval k (starting at k × 60 s): a small book whose prices move from one interval to the next. */
function interval(k: number, state: MarketIntervalTelemetry['state']): MarketIntervalTelemetry {
  const p1 = 100 + 10 * k;
  const p2 = 120 + 5 * k;
  const o = (participant: string, side: 'buy' | 'sell', qty: number, limit: number, filled: number) => {
    const price = PARTICIPANTS[participant]!.microgrid === 'MG1' ? p1 : p2;
    return {
      id: `${participant}/${side}@${k * INTERVAL_S}`,
      participant,
      microgrid: PARTICIPANTS[participant]!.microgrid,
      side,
      qty_wh: qty,
      limit,
      filled_wh: filled,
      price,
      amount: filled * price,
      grid_amount: (qty - filled) * (side === 'buy' ? 250 : 50),
    };
  };
  const delivered = state !== 'cleared' && state !== 'delivering';
  return {
    intervalStart_s: k * INTERVAL_S,
    clearedAt_s: k * INTERVAL_S - 10,
    state,
    prices: [
      { microgrid: 'MG1', price: p1, lo: p1, hi: p1, bought_wh: 21_000, sold_wh: 24_000 },
      { microgrid: 'MG2', price: p2, lo: p2, hi: p2, bought_wh: 8_000, sold_wh: 5_000 },
    ],
    volume_wh: 29_000,
    pool: 3_000 * (p2 - p1),
    orders: [
      o('pv-24', 'sell', 10_000, 0, 10_000),
      o('chp-4', 'sell', 20_000, 80, 14_000),
      o('bess-25', 'sell', 5_000, 150, 0),
      o('load:MG1', 'buy', 21_000, 300, 21_000),
      o('diesel-7', 'sell', 6_000, 100, 5_000),
      o('load:MG2', 'buy', 8_000, 120 + 5 * k, 8_000),
    ],
    refused: [],
    fids: [{ fid: 'fid-25-29', cleared_wh: 3_000, delivered_wh: delivered ? 2_970 : null, binding: false }],
    deliveries: delivered
      ? [
          { participant: 'chp-4', cleared_wh: 20_000, metered_wh: 14_100 },
          { participant: 'pv-24', cleared_wh: 10_000, metered_wh: 9_400 },
        ]
      : [],
  };
}

function telemetry(k: number): MarketTelemetry {
  const intervals = [interval(k - 2, 'settled'), interval(k - 1, 'delivering'), interval(k, 'cleared')];
  return {
    kind: 'market',
    market: 'market',
    t_s: k * INTERVAL_S - 10,
    interval_s: INTERVAL_S,
    gateClosure_s: 10,
    pricing: 'uniform',
    participants: PARTICIPANTS,
    intervals,
    history: Array.from({ length: k + 1 }, (_, j) => ({
      intervalStart_s: j * INTERVAL_S,
      prices: { MG1: 100 + 10 * j, MG2: 120 + 5 * j },
      volume_wh: 29_000,
      fids: { 'fid-25-29': { cleared_wh: 3_000, delivered_wh: j < k - 1 ? 2_970 : null } },
    })),
    ledger: {
      state: 'live',
      authorities: 3,
      blocks: 4 + 2 * k,
      settled: k - 1,
      lastSettled_s: (k - 2) * INTERVAL_S,
      accounts: Object.fromEntries(
        Object.keys(PARTICIPANTS).map((p, i) => [
          p,
          {
            balance: 9e12 + i * 1_234_567,
            deposit: 1e12 - i * 10_000,
            debt: 0,
            penalties: i * 10_000,
            reputation: k - 1 - (i % 2),
          },
        ]),
      ),
      pool: 50_000,
    },
  };
}

let browser: Browser;
let server: LiveServer;
const pages: Page[] = [];
const sockets: Socket<ServerToClientEvents, ClientToServerEvents>[] = [];
/** The run's last market record (interval 4 cleared). */
const LAST = telemetry(4);

beforeAll(async () => {
  browser = await launchChromium();
  server = await startLiveServer({
    port: 0,
    tokens: [
      { role: 'operator', token: TOKENS.operator, name: 'engineer' },
      { role: 'prosumer', token: TOKENS.house24, prosumer: 'house-24', name: 'Ada (house 24)' },
    ],
  });
  for (const k of [2, 3, 4]) {
    const t = telemetry(k);
    server.publishMarket(marketLiveViewOf(t));
    const view = withMarket(
      undefined,
      t,
      'house-24',
      { 'pv-24': { p_mw: 0.4, q_mvar: 0, online: true } },
      t.t_s,
    );
    server.publishProsumer(view!);
  }
});
afterAll(async () => {
  for (const s of sockets) s.close();
  await server?.close();
  await browser?.close();
});
afterEach(async () => {
  for (const page of pages.splice(0)) await page.close();
});

/** The first message of `event` a socket with `token` receives (the server's last, sent on connect). */
function received(token: string, event: 'market' | 'prosumer'): Promise<unknown> {
  const socket: Socket<ServerToClientEvents, ClientToServerEvents> = connect(server.url, {
    transports: ['websocket'],
    reconnection: false,
    forceNew: true,
    auth: { token },
  });
  sockets.push(socket);
  return new Promise((resolve) => socket.once(event, resolve));
}

async function open(token: string) {
  const page = await browser.newPage({ viewport: { width: 1440, height: 900 } });
  pages.push(page);
  const errors = watchErrors(page);
  await page.goto(`${server.url}#token=${token}`);
  return { page, errors };
}

const rowsOf = (page: Page, selector: string) =>
  page.$$eval(`${selector} tbody tr`, (trs) =>
    trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)),
  );
const kwh = (wh: number) => (wh / 1000).toFixed(2);
const money = (micro: number) => (micro / 1e6).toFixed(2);

describe('live page: P2P market', () => {
  it('the operator sees the order book, the clearing price per interval, the trades, FID delivery and the ledger', async () => {
    const message = (await received(TOKENS.operator, 'market')) as MarketLiveView;
    expect(message).toEqual(marketLiveViewOf(LAST));
    const { page, errors } = await open(TOKENS.operator);
    await page.waitForSelector('#market:not([hidden]) .market-trades tbody tr');
    const shown = message.intervals.at(-1)!;
    expect(await page.textContent('#market .market-summary')).toBe(
      `interval 240–300 s (cleared) · price MG1 140 · MG2 140 /MWh · traded 29.00 kWh · ` +
        `ledger: 3 intervals settled on 3 authorities, 12 blocks`,
    );
    // Trades: the orders of the shown interval that traded, with what went to the grid.
    expect(await rowsOf(page, '#market .market-trades')).toEqual(
      shown.orders
        .filter((o) => o.filled_wh > 0)
        .map((o) => [
          o.participant,
          o.microgrid,
          o.side,
          String(o.limit),
          kwh(o.filled_wh),
          kwh(o.qty_wh - o.filled_wh),
          String(o.price),
          money(o.amount),
        ]),
    );
    // The book as staircases: asks from the cheapest (0, 80, 100, 150), bids from the dearest (300, 140).
    const book = (await page.evaluate('window.__gridloop.market.book')) as {
      intervalStart_s: number;
      supply: { points: number[][]; xEnd: number };
      demand: { points: number[][]; xEnd: number };
    };
    expect(book.intervalStart_s).toBe(240);
    expect(book.supply.points).toEqual([
      [0, 0],
      [10, 80],
      [30, 100],
      [36, 150],
    ]);
    expect(book.supply.xEnd).toBe(41);
    expect(book.demand.points).toEqual([
      [0, 300],
      [21, 140],
    ]);
    expect(book.demand.xEnd).toBe(29);
    expect(await page.locator('#market .market-book path[data-series]').count()).toBe(2);
    expect(await page.locator('#market .market-book line[data-mark]').count()).toBe(2);
    // The price per interval: one staircase per microgrid through every interval of the history.
    const prices = (await page.evaluate('window.__gridloop.market.prices')) as {
      name: string;
      points: number[][];
    }[];
    expect(prices.map((p) => p.name)).toEqual(['MG1', 'MG2']);
    for (const p of prices)
      expect(p.points).toEqual(message.history.map((h) => [h.intervalStart_s, h.prices[p.name]]));
    // FIDs: cleared against delivered per interval (delivered once the interval is over).
    expect(await rowsOf(page, '#market .market-fids')).toEqual([
      ['120–180 s', 'fid-25-29', '3.00', '2.97', '1.0 %', ''],
      ['180–240 s', 'fid-25-29', '3.00', '—', '—', ''],
      ['240–300 s', 'fid-25-29', '3.00', '—', '—', ''],
    ]);
    // Every participant's account as the ledger holds it.
    const accounts = await rowsOf(page, '#market .market-accounts');
    expect(accounts).toEqual(
      Object.entries(message.ledger.accounts)
        .sort(([a], [b]) => (a < b ? -1 : 1))
        .map(([id, a]) => [
          id,
          message.participants[id]!.prosumer ?? '',
          money(a.balance),
          money(a.deposit),
          money(a.penalties),
          money(a.debt),
          String(a.reputation),
        ]),
    );
    expect(await page.isHidden('#prosumer-market')).toBe(true);
    await page.locator('#market').scrollIntoViewIfNeeded();
    await screenshot(page, 'market-operator');
    expect(errors).toEqual([]);
  });

  it('a prosumer sees its own trades, deliveries, deposit and penalties, and nothing of the others', async () => {
    const message = (await received(TOKENS.house24, 'prosumer')) as ProsumerView;
    const market = message.market!;
    expect(Object.keys(market.participants)).toEqual(['pv-24']);
    const { page, errors } = await open(TOKENS.house24);
    await page.waitForSelector('#prosumer-market:not([hidden]) .my-trades tbody tr');
    const account = market.accounts['pv-24']!;
    expect(await page.textContent('#prosumer-market .my-market-summary')).toBe(
      `balance ${money(account.balance)} · deposit ${money(account.deposit)} · penalties ${money(account.penalties)} · price now 140 /MWh in MG1`,
    );
    expect(await rowsOf(page, '#prosumer-market .my-accounts')).toEqual([
      [
        'pv-24',
        money(account.balance),
        money(account.deposit),
        money(account.penalties),
        '0.00',
        String(account.reputation),
      ],
    ]);
    // Its trades: pv-24 sold 10 kWh in each of the three intervals, at its microgrid's price.
    expect(await rowsOf(page, '#prosumer-market .my-trades')).toEqual(
      market.intervals.map((i) => {
        const o = i.orders[0]!;
        return [
          `${i.intervalStart_s}–${i.intervalStart_s + 60} s`,
          'pv-24',
          'sell',
          '0',
          '10.00',
          String(o.price),
          money(o.amount),
        ];
      }),
    );
    // Its deliveries: only the delivered interval's, promised 10 kWh, metered 9.4 kWh.
    expect(await rowsOf(page, '#prosumer-market .my-deliveries')).toEqual([
      ['120–180 s', 'pv-24', '10.00', '9.40', '-0.60', 'settled'],
    ]);
    // Nothing of anyone else on the page; the operator's market panel never fills.
    const text = (await page.textContent('body')) ?? '';
    for (const other of ['bess-25', 'chp-4', 'load:MG1', 'diesel-7', 'load:MG2', 'house-25', 'MG2'])
      expect(text, other).not.toContain(other);
    expect(await page.isHidden('#market')).toBe(true);
    await until('the page has its market view', () =>
      page.evaluate('window.__gridloop.prosumerMarket.last !== null'),
    );
    await page.locator('#prosumer-market').scrollIntoViewIfNeeded();
    await screenshot(page, 'market-prosumer');
    expect(errors).toEqual([]);
  });
});
