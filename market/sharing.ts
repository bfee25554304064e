/**
 * Settlement of passive prosumers (who send no orders) by a community sharing rule, as evaluated by
 * Zhou et al., "Evaluation of peer-to-peer energy sharing mechanisms based on a multiagent simulation
 * framework", Applied Energy 222 (2018) 993–1022:
 *
 * - mid-market rate (MMR): the internal price is the mean of retail λb and feed-in λs; the long
 *   side's excess is traded with the grid and its cost or income averaged over the long side;
 * - supply–demand ratio (SDR, Liu et al. 2017): with SDR = S/D,
 *   P_sell = λs·λb / ((λb − λs)·SDR + λs) and P_buy = P_sell·SDR + λb·(1 − SDR) for SDR < 1,
 *   P_sell = P_buy = λs for SDR ≥ 1.
 *
 * Prices are exact rationals (BigInt); each buyer's payment is rounded up and each seller's income
 * rounded down to whole micro-units, and the rounding remainder (≥ 0) goes to the market pool, so
 * buyers' payments = sellers' income + net grid payment + remainder, exactly.
 */

export type SharingRule = 'mid-market-rate' | 'supply-demand-ratio';

export interface PassivePosition {
  participant: string;
  /** Metered net energy over the interval, Wh: export (surplus) positive, import negative. */
  net_wh: number;
}

/** A price as an exact fraction of money units per MWh. */
export interface Rational {
  num: bigint;
  den: bigint;
}

export interface SharingResult {
  rule: SharingRule;
  supply_wh: number;
  demand_wh: number;
  buyPrice: Rational;
  sellPrice: Rational;
  /** Per participant, micro-units: positive = received, negative = paid. */
  amounts: Map<string, bigint>;
  /** Exchange with the main grid: import at retail, export at feed-in. */
  gridImport_wh: number;
  gridExport_wh: number;
  /** Paid to the main grid minus received from it, micro-units. */
  gridNet: bigint;
  /** Rounding remainder kept by the pool, micro-units (≥ 0). */
  remainder: bigint;
}

export function share(
  positions: readonly PassivePosition[],
  rule: SharingRule,
  retailPrice: number,
  feedInPrice: number,
): SharingResult {
  let S = 0n;
  let D = 0n;
  for (const p of positions) {
    if (!Number.isSafeInteger(p.net_wh)) throw new TypeError(`${p.participant}: net_wh must be whole Wh`);
    if (p.net_wh > 0) S += BigInt(p.net_wh);
    else D += BigInt(-p.net_wh);
  }
  const lb = BigInt(retailPrice);
  const ls = BigInt(feedInPrice);
  let buy: Rational;
  let sell: Rational;
  if (rule === 'mid-market-rate') {
    // Long side averages the mid price with the grid price for its excess.
    const mid = lb + ls; // ×1/2
    if (S === D) buy = sell = { num: mid, den: 2n };
    else if (S > D) {
      buy = { num: mid, den: 2n };
      sell = { num: mid * D + 2n * ls * (S - D), den: 2n * S };
    } else {
      sell = { num: mid, den: 2n };
      buy = { num: mid * S + 2n * lb * (D - S), den: 2n * D };
    }
  } else if (D === 0n || S >= D) {
    buy = sell = { num: ls, den: 1n };
  } else {
    // SDR = S/D < 1.
    const b = (lb - ls) * S + ls * D;
    sell = { num: ls * lb * D, den: b };
    buy = { num: sell.num * S + lb * (D - S) * b, den: b * D };
  }
  const amounts = new Map<string, bigint>();
  let paid = 0n;
  let received = 0n;
  for (const p of positions) {
    const q = BigInt(Math.abs(p.net_wh));
    let a: bigint;
    if (p.net_wh > 0) {
      a = (q * sell.num) / sell.den;
      received += a;
    } else {
      a = -ceilDiv(q * buy.num, buy.den);
      paid -= a;
    }
    amounts.set(p.participant, (amounts.get(p.participant) ?? 0n) + a);
  }
  const gridImport = D > S ? D - S : 0n;
  const gridExport = S > D ? S - D : 0n;
  const gridNet = gridImport * lb - gridExport * ls;
  return {
    rule,
    supply_wh: Number(S),
    demand_wh: Number(D),
    buyPrice: buy,
    sellPrice: sell,
    amounts,
    gridImport_wh: Number(gridImport),
    gridExport_wh: Number(gridExport),
    gridNet,
    remainder: paid - received - gridNet,
  };
}

function ceilDiv(a: bigint, b: bigint): bigint {
  return (a + b - 1n) / b;
}
