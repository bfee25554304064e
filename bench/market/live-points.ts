/**
 * The live market's telemetry (market/telemetry.ts) as recorded points, with the measurements and
 * fields the market day in `simulate` writes (bench/market/market-points.ts; docs/influx-schema.md):
 * `market_interval` and `market_trade` once an interval is cleared (stamped at its start);
 * `market_fid` and `market_meter` once it is delivered, `market_account` and `chain` once it is
 * settled (stamped at its end); `chain` `reading-refused` for each meter reading an authority refused.
 *
 * The telemetry is a snapshot of the latest intervals, sent whenever there is news: each stage of
 * each interval is written once, the first time a record shows it.
 */

import type { MarketIntervalTelemetry, MarketTelemetry } from '../../market/telemetry.ts';
import type { PointSink } from '../recording/schema.ts';
import { accountPoint, chainPoint, clearingPoints, fidError, fidPoint, meterPoint } from './market-points.ts';

/** The delivery check's default tolerance (scenario `market.tolerance`): FID energy within 1 %. */
const FID_TOLERANCE = 0.01;

export class MarketPointWriter {
  /** Per interval start: the stages already written. */
  private readonly written = new Map<number, Set<'cleared' | 'delivered' | 'settled'>>();
  private refusedSeen = 0;
  /** Penalties per participant so far (the account's), to give each interval's own. */
  private readonly penalties = new Map<string, number>();

  constructor(
    /** The grid's microgrids, and each FID's rating (MW) for the delivery error's reference. */
    private readonly microgrids: readonly string[],
    private readonly fidRatings: ReadonlyMap<string, number>,
  ) {}

  /** Writes what this record shows for the first time. */
  absorb(t: MarketTelemetry, point: PointSink, timeOf: (t_s: number) => bigint): void {
    for (const i of t.intervals) {
      let done = this.written.get(i.intervalStart_s);
      if (!done) {
        done = new Set();
        this.written.set(i.intervalStart_s, done);
      }
      if (!done.has('cleared')) {
        done.add('cleared');
        clearingPoints(clearedOf(i), this.microgrids, point, timeOf(i.intervalStart_s));
      }
      const end = timeOf(i.intervalStart_s + t.interval_s);
      if (
        !done.has('delivered') &&
        (i.state === 'delivered' || i.state === 'settled' || i.deliveries.length > 0)
      ) {
        done.add('delivered');
        this.deliveredPoints(i, t.interval_s, point, end);
      }
      if (!done.has('settled') && i.state === 'settled') {
        done.add('settled');
        for (const b of i.chain ?? [])
          for (const d of b.decisions) chainPoint(d, BigInt(b.height), b.proposer, point, end);
        // The accounts are read after each settlement: they are this interval's when it is the last one settled.
        if (t.ledger.lastSettled_s === i.intervalStart_s) this.accountPoints(t, i, point, end);
      }
    }
    // Intervals no longer in the record will not come back.
    const oldest = t.intervals[0]?.intervalStart_s ?? Number.NEGATIVE_INFINITY;
    for (const start of this.written.keys()) if (start < oldest) this.written.delete(start);
    const refused = t.readingsRefused;
    if (refused) {
      // The last ones in full: those this writer has not seen yet (fewer when more came between records).
      const fresh = Math.min(refused.count - this.refusedSeen, refused.last.length);
      for (const r of refused.last.slice(refused.last.length - fresh))
        chainPoint(
          {
            authority: `authority${r.authority}`,
            outcome: 'reading-refused',
            reason: `${r.reason}: ${r.message}`,
          },
          BigInt(t.ledger.blocks),
          r.meter,
          point,
          timeOf(r.t_s),
        );
      this.refusedSeen = refused.count;
    }
  }

  private deliveredPoints(
    i: MarketIntervalTelemetry,
    interval_s: number,
    point: PointSink,
    end: bigint,
  ): void {
    for (const f of i.fids) {
      const delivered = f.delivered_wh ?? 0;
      const error = fidError(f.cleared_wh, delivered, this.fidRatings.get(f.fid) ?? 0, interval_s);
      const shortfall = error > FID_TOLERANCE;
      fidPoint(
        {
          fid: f.fid,
          cleared_wh: f.cleared_wh,
          delivered_wh: delivered,
          error,
          binding: f.binding,
          shortfall,
          constraint:
            f.message ??
            (shortfall ? `${f.fid} carried ${Math.round(delivered)} Wh of ${f.cleared_wh} Wh cleared` : ''),
        },
        point,
        end,
      );
    }
    const number = Math.round(i.intervalStart_s / interval_s);
    for (const r of i.readings ?? []) meterPoint(point, number, r, end);
  }

  private accountPoints(t: MarketTelemetry, i: MarketIntervalTelemetry, point: PointSink, end: bigint): void {
    for (const d of i.deliveries) {
      const a = t.ledger.accounts[d.participant];
      if (!a) continue;
      const before = this.penalties.get(d.participant) ?? 0;
      this.penalties.set(d.participant, a.penalties);
      accountPoint(
        {
          participant: d.participant,
          microgrid: t.participants[d.participant]?.microgrid ?? '',
          cleared_wh: d.cleared_wh,
          metered_wh: d.metered_wh,
          balance: a.balance,
          deposit: a.deposit,
          debt: a.debt,
          penalty: a.penalties - before,
          reputation: a.reputation,
        },
        point,
        end,
      );
    }
  }
}

/** An interval of the telemetry as the clearing's points take it (its book's fills). */
function clearedOf(i: MarketIntervalTelemetry) {
  const cleared = i.prices.length > 0;
  return {
    ...(cleared
      ? {
          result: {
            prices: i.prices,
            volume_wh: i.volume_wh,
            fills: i.orders.map((o) => ({
              participant: o.participant,
              microgrid: o.microgrid,
              side: o.side,
              filled_wh: o.filled_wh,
              unmatched_wh: o.qty_wh - o.filled_wh,
              price: o.price,
              amount: o.amount,
              gridAmount: o.grid_amount,
            })),
          },
        }
      : {}),
    refused: i.refused.length,
    ...(i.note === undefined ? {} : { note: i.note }),
  };
}
