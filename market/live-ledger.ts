/**
 * The live market's ledger (docs/market.md, "On the live bench"): an embedded proof-of-authority
 * chain (ledger/) with every participant credited and its deposit locked at the start; each
 * delivered interval voted on by every authority and settled against its metered energy in one
 * batch; every account read back from the contract storage afterwards. Runs in the market
 * controller's worker thread, between its decisions: never on the loop's step path.
 */
import type { ClearingResult } from './clearing.ts';
import { blockDecisions } from './ledger/decisions.ts';
import { type LedgerRules, MarketLedger, resultHash, settlementOf } from './ledger/ledger.ts';
import { persistLedger } from './ledger/persist.ts';
import { LIVE_CREDIT, LIVE_DEPOSIT, type LiveSettlement } from './live.ts';
import type { Participant } from './orders.ts';
import type { MarketAccountTelemetry } from './telemetry.ts';

export class LiveLedger implements LiveSettlement {
  /** Blocks already handed out by `settle`. */
  private reported = 0;

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
   * Settles interval `k` (a positive integer) as the market day does (bench/market/market-settlement.ts):
   * the meter readings' commitments and every authority's vote on the hash of the clearing it
   * re-ran (the same result: one clearing function) in one block, then the settlement against the
   * accepted readings. A participant with no metered energy is settled as delivered (the contract's
   * default). Returns the blocks made final since the last call.
   */
  async settle(
    k: number,
    result: ClearingResult,
    metered: ReadonlyMap<string, number>,
    commitments: readonly { meter: string; commitment: string }[],
    participants?: ReadonlyMap<string, Participant>,
  ): ReturnType<LiveSettlement['settle']> {
    // Declared positions by the one rule (market/position.ts): dispatchable units held to their match.
    const settlement = settlementOf(k, result, { participants });
    const hash = resultHash(settlement);
    const votes = new Map(this.ledger.engine.authorities.map((_, i) => [i, hash]));
    // Blocks made before a refusal are reported with the next settlement.
    if (commitments.length > 0) await this.ledger.commitReadingsAndVote(BigInt(k), commitments, votes);
    else await this.ledger.vote(BigInt(k), votes);
    const meteredWh = new Map<string, bigint>();
    for (const [p, wh] of metered) meteredWh.set(p, BigInt(Math.round(wh)));
    await this.ledger.settle(settlement, meteredWh);
    return this.newBlocks();
  }

  /** Every block made final since the last call, with each authority's decision on it. */
  private newBlocks(): Awaited<ReturnType<LiveSettlement['settle']>> {
    const chain = this.ledger.chain;
    const names = chain.authorities.map((a) => a.name);
    const out = chain.log.slice(this.reported).map((o) => ({
      height: Number(o.block.header.number),
      proposer: o.proposer,
      decisions: blockDecisions(o, names),
    }));
    this.reported = chain.log.length;
    return out;
  }

  /** Writes the chain and every account into the run's folder (ledger/chain.jsonl, accounts.json). */
  async persist(runDir: string): Promise<void> {
    await persistLedger(this.ledger, runDir, this.participants);
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
