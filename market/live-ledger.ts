/**
 * The live market's ledger (docs/market.md, "On the live bench"): an embedded proof-of-authority
 * chain (ledger/) with every participant credited and its deposit locked at the start; each
 * delivered interval voted on by every authority and settled against its metered energy in one
 * batch; every account read back from the contract storage afterwards. Runs in the market
 * controller's worker thread, between its decisions: never on the loop's step path.
 */
import type { ClearingResult } from './clearing.ts';
import { type LedgerRules, MarketLedger, resultHash, settlementOf } from './ledger/ledger.ts';
import { LIVE_CREDIT, LIVE_DEPOSIT } from './live.ts';
import type { Participant } from './orders.ts';
import type { MarketAccountTelemetry } from './telemetry.ts';

export class LiveLedger {
  private constructor(
    private readonly ledger: MarketLedger,
    private readonly participants: readonly string[],
  ) {}

  /** Deploys the contract on a fresh chain of `authorities` authorities and funds every participant. */
  static async start(
    participants: readonly string[],
    rules: LedgerRules,
    authorities: number,
    seed: string,
  ): Promise<LiveLedger> {
    const ledger = await MarketLedger.deploy(authorities, rules, seed);
    const ids = [...participants].sort();
    await ledger.credit(new Map(ids.map((p) => [p, LIVE_CREDIT])));
    await ledger.lockDeposits(new Map(ids.map((p) => [p, LIVE_DEPOSIT])));
    return new LiveLedger(ledger, ids);
  }

  get authorities(): number {
    return this.ledger.engine.authorities.length;
  }

  get blocks(): number {
    return this.ledger.chain.log.length;
  }

  /**
   * Settles interval `k` (a positive integer): every authority votes the hash of the clearing it
   * re-ran (the same result: one clearing function), then the settlement against the meters.
   * A participant with no metered energy is settled as delivered (the contract's default).
   */
  async settle(
    k: number,
    result: ClearingResult,
    metered: ReadonlyMap<string, number>,
    participants?: ReadonlyMap<string, Participant>,
  ): Promise<void> {
    // Declared positions by the one rule (market/position.ts): dispatchable units held to their match.
    const settlement = settlementOf(k, result, { participants });
    const hash = resultHash(settlement);
    const votes = new Map(this.ledger.engine.authorities.map((_, i) => [i, hash]));
    await this.ledger.vote(BigInt(k), votes);
    const meteredWh = new Map<string, bigint>();
    for (const [p, wh] of metered) meteredWh.set(p, BigInt(Math.round(wh)));
    await this.ledger.settle(settlement, meteredWh);
  }

  /** Every participant's account and the pool, read from authority 0's contract storage. */
  async accounts(): Promise<{ accounts: Record<string, MarketAccountTelemetry>; pool: number }> {
    const read = await this.ledger.accountsOf(this.participants, 0);
    const accounts: Record<string, MarketAccountTelemetry> = {};
    this.participants.forEach((p, i) => {
      const a = read[i]!;
      accounts[p] = {
        balance: Number(a.balance),
        deposit: Number(a.deposit),
        debt: Number(a.debt),
        penalties: Number(LIVE_DEPOSIT - a.deposit + a.debt),
        reputation: Number(a.reputation),
      };
    });
    return { accounts, pool: Number(await this.ledger.read(0, 'pool()')) };
  }

  close(): Promise<void> {
    return this.ledger.close();
  }
}
