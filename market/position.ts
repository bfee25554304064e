/**
 * A participant's declared position in an interval (docs/market.md, "Declared position"): what the
 * settlement holds it to against its meter. Its P2P fills always count. The unmatched rest of an
 * order counts (sold to the main grid at feed-in, bought from it at retail) only when the
 * participant makes or uses that energy whatever the market says — renewables, firm loads, a
 * generator's must-run minimum. A unit the market holds to its matched volume (`dispatchable`: a
 * dispatchable generator or battery, a flexible load curtailed by what does not clear) is committed
 * by its unmatched rest to nothing: it offered a capability, and does not run what was not bought.
 * One rule for `simulate`'s settlement and the live bench.
 */
import { isMustRunOrder } from './agents.ts';
import type { Fill } from './clearing.ts';
import type { Participant } from './orders.ts';

/** Whether the unmatched rest of the fill's order is part of its participant's position. */
export function unmatchedCommits(fill: Fill, participant?: Pick<Participant, 'dispatchable'>): boolean {
  return !participant?.dispatchable || isMustRunOrder(fill.orderId);
}

/**
 * One fill's part of its participant's declared position: energy (Wh, sell positive), money
 * (micro-units, received positive: its P2P amount and, when the rest commits it, the grid's amount
 * for it) and what the main grid receives for it (micro-units).
 */
export function declaredPart(
  fill: Fill,
  participant?: Pick<Participant, 'dispatchable'>,
): { position_wh: number; money: number; grid: number } {
  const sign = fill.side === 'sell' ? 1 : -1;
  const commits = unmatchedCommits(fill, participant);
  const energy = fill.filled_wh + (commits ? fill.unmatched_wh : 0);
  const gridAmount = commits ? fill.gridAmount : 0;
  // The grid is paid by buyers and pays sellers. (`|| 0`: no −0 for an empty side.)
  return {
    position_wh: sign * energy || 0,
    money: sign * (fill.amount + gridAmount) || 0,
    grid: -sign * gridAmount || 0,
  };
}

/** Each participant's declared position over the fills of an interval, Wh (sell positive). */
export function declaredPositions(
  fills: readonly Fill[],
  participants?: ReadonlyMap<string, Pick<Participant, 'dispatchable'>>,
): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of fills)
    out.set(
      f.participant,
      (out.get(f.participant) ?? 0) + declaredPart(f, participants?.get(f.participant)).position_wh,
    );
  return out;
}
