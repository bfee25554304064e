/**
 * The market's points (docs/influx-schema.md): one builder per measurement, shared by the market
 * day in `simulate` (market-day.ts, market-settlement.ts) and the live market
 * (bench/runtime/market-points.ts), so both write the same names, tags and fields.
 */
import type { Fill, MicrogridPrice } from '../../market/clearing.ts';
import type { BlockDecision } from '../../market/ledger/decisions.ts';
import type { AcceptedReading } from '../../market/metering.ts';
import type { PointSink } from '../recording/schema.ts';

/** What an interval's clearing points are built from (a ClearingResult, or the live telemetry's book). */
export interface ClearedInterval {
  /** Absent when nothing was cleared (the ledger could not make progress): `note` says why. */
  result?: {
    prices: readonly MicrogridPrice[];
    fills: readonly (Pick<
      Fill,
      'participant' | 'microgrid' | 'side' | 'filled_wh' | 'unmatched_wh' | 'price' | 'amount' | 'gridAmount'
    > &
      Partial<Pick<Fill, 'orderId'>>)[];
    volume_wh: number;
  };
  /** Orders refused at admission. */
  refused: number;
  note?: string;
}

/**
 * `market_interval` per microgrid (price, bracket, P2P and grid energy) and `market_trade` per
 * order, stamped `time` (the interval's start).
 */
export function clearingPoints(
  c: ClearedInterval,
  microgrids: readonly string[],
  point: PointSink,
  time: bigint,
): void {
  const refused = BigInt(c.refused);
  if (!c.result) {
    for (const mg of microgrids)
      point('market_interval', { microgrid: mg }, { refused_orders: refused, note: c.note ?? '' }, time);
    return;
  }
  // What each microgrid's orders left unmatched goes to the main grid (docs/market.md).
  const grid = new Map<string, { bought: number; sold: number }>();
  for (const f of c.result.fills) {
    const g = grid.get(f.microgrid) ?? { bought: 0, sold: 0 };
    if (f.side === 'buy') g.bought += f.unmatched_wh;
    else g.sold += f.unmatched_wh;
    grid.set(f.microgrid, g);
  }
  for (const p of c.result.prices)
    point(
      'market_interval',
      { microgrid: p.microgrid },
      {
        price: p.price,
        price_lo: p.lo,
        price_hi: p.hi,
        bought_wh: p.bought_wh,
        sold_wh: p.sold_wh,
        volume_wh: c.result.volume_wh,
        grid_bought_wh: grid.get(p.microgrid)?.bought ?? 0,
        grid_sold_wh: grid.get(p.microgrid)?.sold ?? 0,
        refused_orders: refused,
      },
      time,
    );
  for (const f of c.result.fills)
    point(
      'market_trade',
      { participant: f.participant, microgrid: f.microgrid, side: f.side },
      {
        filled_wh: f.filled_wh,
        unmatched_wh: f.unmatched_wh,
        price: f.price,
        amount: f.amount,
        grid_amount: f.gridAmount,
        // The order's id, where the fill carries it (simulate's clearing; the live book does not).
        ...(f.orderId === undefined ? {} : { order: f.orderId }),
      },
      time,
    );
}

/** |delivered − cleared| relative to the cleared energy, or to the FID's rated energy when that is more. */
export function fidError(
  cleared_wh: number,
  delivered_wh: number,
  rating_mw: number,
  interval_s: number,
): number {
  const reference = Math.max(Math.abs(cleared_wh), rating_mw * 1e6 * (interval_s / 3600));
  return reference > 0 ? Math.abs(delivered_wh - cleared_wh) / reference : 0;
}

/** `market_fid`: one FID over one interval, stamped `time` (the interval's end). */
export function fidPoint(
  d: {
    fid: string;
    cleared_wh: number;
    delivered_wh: number;
    error: number;
    binding: boolean;
    shortfall: boolean;
    constraint: string;
  },
  point: PointSink,
  time: bigint,
): void {
  point(
    'market_fid',
    { fid: d.fid },
    {
      cleared_wh: d.cleared_wh,
      delivered_wh: d.delivered_wh,
      error: d.error,
      binding: d.binding,
      shortfall: d.shortfall,
      constraint: d.constraint,
    },
    time,
  );
}

/** `market_meter`: a reading its authority accepted for interval `interval`, and its commitment. */
export function meterPoint(point: PointSink, interval: number, r: AcceptedReading, time: bigint): void {
  point(
    'market_meter',
    { participant: r.participant },
    { interval: BigInt(interval), energy_wh: BigInt(r.energy_wh), commitment: r.commitment },
    time,
  );
}

/** `chain`: an authority's decision on a block, or (`reading-refused`) a meter reading its register refused. */
export function chainPoint(
  d: BlockDecision | { authority: string; outcome: 'reading-refused'; reason: string },
  height: bigint,
  proposer: string,
  point: PointSink,
  time: bigint,
): void {
  point(
    'chain',
    { authority: d.authority, outcome: d.outcome },
    { height, proposer, reason: d.reason ?? '' },
    time,
  );
}

/** `market_account`: a participant's delivery and its account after a settled interval, micro-units. */
export function accountPoint(
  a: {
    participant: string;
    microgrid: string;
    cleared_wh: number;
    metered_wh: number;
    balance: number;
    deposit: number;
    debt: number;
    penalty: number;
    reputation: number;
  },
  point: PointSink,
  time: bigint,
): void {
  point(
    'market_account',
    { participant: a.participant, microgrid: a.microgrid },
    {
      cleared_wh: a.cleared_wh,
      metered_wh: a.metered_wh,
      balance: a.balance,
      deposit: a.deposit,
      debt: a.debt,
      penalty: a.penalty,
      reputation: a.reputation,
    },
    time,
  );
}
