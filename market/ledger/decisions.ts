/**
 * Each authority's decision on a final block (the `chain` points of docs/influx-schema.md): shared
 * by the market day in `simulate` and the live market.
 */
import type { BlockDecision } from '../telemetry.ts';
import type { BlockOutcome } from './chain.ts';

export type { BlockDecision };

/** Each authority's decision on a final block: accepted, refused (why), or offline. */
export function blockDecisions(o: BlockOutcome, authorities: readonly string[]): BlockDecision[] {
  return authorities.map((authority) => {
    const rejected = o.rejectedBy.find((r) => r.authority === authority);
    if (o.acceptedBy.includes(authority)) return { authority, outcome: 'accepted' };
    return rejected
      ? { authority, outcome: 'refused', reason: rejected.reason }
      : { authority, outcome: 'offline' };
  });
}
