/**
 * P2P market clearing speed.
 *   npm run bench:market [-- --runs 20]
 * Clears a random book of 10,000 orders (half bids, half asks, coarse prices so ties are common)
 * in one community and across three microgrids joined by two FIDs, and reports the median and the
 * worst wall time per clearing and the median CPU time (the machine is shared: CPU time is the
 * steadier figure). Then settles one interval of 1,000 prosumers on the embedded 3-authority chain
 * (order commitments and votes in one block, then the settlement, every authority re-executing) and on EDR (if installed: npm run
 * ledger:install-backends), and a 24 h market day (96 intervals, --day-intervals N; 0 skips it) of
 * 1,000 prosumers on the embedded chain, persisted and verified from genesis as `gridloop ledger
 * verify` does. Ends with one JSON line. Targets: ≤ 20 ms for 10,000 orders; ≤ 10 s for the
 * settlement; ≤ 60 s for the verification of the day.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { clear, type MarketNetwork } from '../market/clearing.ts';
import { MarketLedger, resultHash, settlementOf } from '../market/ledger/ledger.ts';
import { bookCommitments } from '../market/ledger/order-commitment.ts';
import { persistLedger, verifyLedger } from '../market/ledger/persist.ts';
import { DEFAULT_MARKET_CONFIG, type Order, type Participant } from '../market/orders.ts';

const runsArg = process.argv.indexOf('--runs');
const RUNS = runsArg > 0 ? Number(process.argv[runsArg + 1]) : 20;
if (!(RUNS >= 1)) {
  console.error('bench:market: --runs must be a number ≥ 1');
  process.exit(2);
}
const ORDERS = 10_000;
const MICROGRIDS = ['mg1', 'mg2', 'mg3'];

/** Deterministic pseudo-random numbers (mulberry32), so every run clears the same book. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const random = rng(20);
const participants = new Map<string, Participant>();
const orders: Order[] = [];
for (let i = 0; i < ORDERS; i++) {
  const id = `p${i}`;
  participants.set(id, { id, microgrid: MICROGRIDS[i % 3], deposit: 0 });
  const buy = random() < 0.5;
  orders.push({
    id: `o${i}`,
    participant: id,
    side: buy ? 'buy' : 'sell',
    qty_wh: 100 + Math.floor(random() * 5000),
    price: Math.floor((buy ? 80 : 40) + random() * 160),
    t_s: Math.floor(random() * 600),
  });
}
const network: MarketNetwork = {
  microgrids: MICROGRIDS,
  links: [
    { id: 'fid12', a: 'mg1', b: 'mg2', cap_wh: 500_000 },
    { id: 'fid23', a: 'mg2', b: 'mg3', cap_wh: 300_000 },
  ],
};

function measure(run: () => unknown) {
  const times: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < RUNS + 3; i++) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    run();
    if (i < 3) continue; // the first runs warm the JIT
    times.push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  const median = (xs: number[]) => round(xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]);
  return { median_ms: median(times), max_ms: round(Math.max(...times)), cpu_median_ms: median(cpu) };
}
const round = (x: number) => Math.round(x * 100) / 100;

const single = measure(() => clear(orders, participants, DEFAULT_MARKET_CONFIG));
const grid = measure(() => clear(orders, participants, DEFAULT_MARKET_CONFIG, network));
const r = clear(orders, participants, DEFAULT_MARKET_CONFIG, network);

// Settling one interval of 1,000 prosumers: from the end of the interval (clearing known, meters
// read) to every authority holding the settled balances (votes + settlement).
const PROSUMERS = 1000;
const RULES = {
  retailPrice: DEFAULT_MARKET_CONFIG.retailPrice,
  feedInPrice: DEFAULT_MARKET_CONFIG.feedInPrice,
  toleranceWh: 10,
  tolerancePermille: 50,
  penaltyPerWh: 100,
};

/** The settlement of interval k: a fresh random book of the 1,000 prosumers, cleared. */
function intervalSettlement(k: number) {
  const rnd = rng(1000 + k);
  const book: Order[] = Array.from({ length: PROSUMERS }, (_, i) => {
    const buy = rnd() < 0.5;
    return {
      id: `o${k}-${i}`,
      participant: `p${i}`,
      side: buy ? 'buy' : 'sell',
      qty_wh: 100 + Math.floor(rnd() * 5000),
      price: Math.floor((buy ? 80 : 40) + rnd() * 160),
      t_s: Math.floor(rnd() * 600),
    };
  });
  const settlement = settlementOf(k, clear(book, participants, DEFAULT_MARKET_CONFIG), { participants });
  const metered = new Map(
    settlement.lines.map((l, i) => [l.participant, l.clearedWh + BigInt(((i + k) % 7) * 20 - 60)]),
  );
  // The interval's orders committed as one Merkle root per microgrid's book, deposits checked.
  const books = bookCommitments(
    BigInt(k),
    book,
    (p) => participants.get(p)?.microgrid,
    DEFAULT_MARKET_CONFIG.depositPerWh,
  );
  return { settlement, metered, books };
}

async function prepared(ledger: MarketLedger) {
  const who = Array.from({ length: PROSUMERS }, (_, i) => `p${i}`);
  await ledger.credit(new Map(who.map((w) => [w, 10_000_000_000n])));
  await ledger.lockDeposits(new Map(who.map((w) => [w, 1_000_000n])));
  return ledger;
}

/** Votes and settles interval k; wall and CPU seconds. */
async function settleInterval(ledger: MarketLedger, k: number) {
  const { settlement, metered, books } = intervalSettlement(k);
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const hash = resultHash(settlement);
  // As the market day does: the order books (each by its microgrid's authority) and the votes in one
  // block, then the settlement.
  const voting = await ledger.commitReadingsAndVote(
    BigInt(k),
    [],
    new Map([0, 1, 2].map((a) => [a, hash])),
    ledger.orderBookCalls(books, (mg) => MICROGRIDS.indexOf(mg)),
  );
  const out = await ledger.settle(settlement, metered);
  const c = process.cpuUsage(c0);
  return {
    s: (performance.now() - t0) / 1000,
    cpu_s: (c.user + c.system) / 1e6,
    gas: Number(out.gasUsed),
    commit_gas: Number(voting.gasUsed),
    blocks: out.blocks.length + voting.blocks.length,
  };
}

const embedded = await prepared(await MarketLedger.deploy(3, RULES, 'bench'));
const one = await settleInterval(embedded, 1);

// EDR (optional backend): the same interval.
let edr: Awaited<ReturnType<typeof settleInterval>> | string;
try {
  const { createEdrEngine } = await import('../market/ledger/engine-rpc.ts');
  const ledger = await prepared(await MarketLedger.deployOn(await createEdrEngine({ seed: 'bench' }), RULES));
  edr = await settleInterval(ledger, 1);
  await ledger.close();
} catch (e) {
  edr = (e as Error).message;
}

// A 24 h market day (96 intervals of 15 min) of 1,000 prosumers on the embedded chain, persisted
// to a run folder, then verified from genesis as `gridloop ledger verify` does.
const dayArg = process.argv.indexOf('--day-intervals');
const DAY = dayArg > 0 ? Number(process.argv[dayArg + 1]) : 96;
let day: Record<string, number> | undefined;
if (DAY > 0) {
  const ledger = await prepared(await MarketLedger.deploy(3, RULES, 'bench-day'));
  const t0 = performance.now();
  for (let k = 1; k <= DAY; k++) await settleInterval(ledger, k);
  const build_s = (performance.now() - t0) / 1000;
  const dir = mkdtempSync(join(tmpdir(), 'gridloop-bench-ledger-'));
  await persistLedger(ledger, dir);
  const c0 = process.cpuUsage();
  const report = await verifyLedger(dir);
  const c = process.cpuUsage(c0);
  rmSync(dir, { recursive: true, force: true });
  if (!report.ok)
    throw new Error(`bench:market: the day's ledger does not verify: ${report.problems.join('; ')}`);
  day = {
    day_intervals: DAY,
    day_build_s: round(build_s),
    verify_s: round(report.seconds),
    verify_replay_s: round(report.replaySeconds),
    verify_cpu_s: round((c.user + c.system) / 1e6),
    verify_blocks: report.blocks,
  };
}

console.log(
  JSON.stringify({
    bench: 'market',
    orders: ORDERS,
    runs: RUNS,
    clear_single_median_ms: single.median_ms,
    clear_single_max_ms: single.max_ms,
    clear_single_cpu_median_ms: single.cpu_median_ms,
    clear_3mg_median_ms: grid.median_ms,
    clear_3mg_max_ms: grid.max_ms,
    clear_3mg_cpu_median_ms: grid.cpu_median_ms,
    volume_wh: r.volume_wh,
    binding_fids: r.links.filter((l) => l.binding).map((l) => l.id),
    target_ms: 20,
    settle_prosumers: PROSUMERS,
    settle_authorities: 3,
    settle_s: round(one.s),
    settle_cpu_s: round(one.cpu_s),
    settle_gas: one.gas,
    commit_vote_gas: one.commit_gas,
    interval_gas: one.gas + one.commit_gas,
    settle_target_s: 10,
    edr_settle_s: typeof edr === 'string' ? edr : round(edr.s),
    edr_settle_blocks: typeof edr === 'string' ? undefined : edr.blocks,
    ...day,
    verify_target_s: 60,
    loadavg_1m: round(loadavg()[0]),
  }),
);
