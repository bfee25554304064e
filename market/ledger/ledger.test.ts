/**
 * The ledger on a real Ethereum engine: three Clique authorities on @ethereumjs, each with its own
 * chain database and state, each re-executing every block. Every figure is read back from every
 * authority's contract storage and compared with a hand calculation.
 */
import { readFileSync } from 'node:fs';
import { keccak_256 } from '@noble/hashes/sha3.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { clear } from '../clearing.ts';
import { DEFAULT_MARKET_CONFIG, type Order, type Participant } from '../orders.ts';
import { bytesToHex, keccak } from './abi.ts';
import { Authority, authorityKey } from './chain.ts';
import { ARTIFACT_PATH, compile } from './compile.ts';
import { MarketLedger, participantAddress, resultHash, settlementOf } from './ledger.ts';
import { bookCommitments } from './order-commitment.ts';

const RULES = {
  retailPrice: 250,
  feedInPrice: 50,
  toleranceWh: 10,
  tolerancePermille: 50,
  penaltyPerWh: 100,
};
const PEOPLE = ['alice', 'bob', 'carol'];

describe('MarketLedger.json', () => {
  it('is what solc compiles from MarketLedger.sol today', () => {
    const committed = JSON.parse(readFileSync(ARTIFACT_PATH, 'utf8'));
    const fresh = compile();
    expect(fresh.bytecode).toBe(committed.bytecode);
    expect(fresh.abi).toEqual(committed.abi);
    expect(fresh.solc).toBe(committed.solc);
  }, 120_000);
});

describe('ledger on a 3-authority Clique chain', () => {
  let ledger: MarketLedger;
  const minted = 3_000_000n;

  beforeAll(async () => {
    ledger = await MarketLedger.deploy(3, RULES, 'ledger-test');
    await ledger.credit(new Map(PEOPLE.map((p) => [p, 1_000_000n])));
    await ledger.lockDeposits(
      new Map([
        ['alice', 50_000n],
        ['bob', 50_000n],
        ['carol', 100_000n],
      ]),
    );
  }, 120_000);

  /** Σ balances + Σ deposits + pool + grid, on one authority. */
  async function total(i: number) {
    const a = ledger.chain.authorities[i];
    let sum = (await ledger.read(a, 'pool()')) + (await ledger.read(a, 'grid()'));
    for (const p of PEOPLE) {
      sum += await ledger.read(a, 'balanceOf(address)', [participantAddress(p)]);
      sum += await ledger.read(a, 'depositOf(address)', [participantAddress(p)]);
    }
    return { sum, minted: await ledger.read(a, 'minted()') };
  }

  it('refuses an order commitment whose deposit is too small, naming the reason', async () => {
    const big: Order = { id: 'b9', participant: 'bob', side: 'buy', qty_wh: 10_000_000, price: 1, t_s: 0 };
    await expect(ledger.commitOrderBooks(bookCommitments(1n, [big], () => 'mg1', 100))).rejects.toThrow(
      /deposit too small/,
    );
  });

  it("commits a book's orders as one Merkle root in tie-rule order and proves each order against it", async () => {
    // Out of merit order on purpose: the root must not depend on the submission order.
    const orders: Order[] = [
      { id: 'c2', participant: 'carol', side: 'buy', qty_wh: 10, price: 150, t_s: 2.5 },
      { id: 'b2', participant: 'bob', side: 'buy', qty_wh: 20, price: 200, t_s: 1 },
      { id: 'a3', participant: 'alice', side: 'sell', qty_wh: 30, price: 90, t_s: 3 },
      { id: 'a2', participant: 'alice', side: 'sell', qty_wh: 40, price: 90, t_s: 1 },
      { id: 'a1', participant: 'alice', side: 'sell', qty_wh: 50, price: 100, t_s: 0 },
    ];
    const [book] = bookCommitments(3n, orders, () => 'mg1', 100);
    // The tie rule by hand: sells cheapest first (a2 before a3 at 90: earlier), then buys dearest first.
    expect(book.orders.map((o) => o.id)).toEqual(['a2', 'a3', 'a1', 'b2', 'c2']);
    expect(book.needs).toEqual(
      new Map([
        ['alice', 12_000n],
        ['bob', 2_000n],
        ['carol', 1_000n],
      ]),
    );
    // Leaves and root recomputed here with another keccak (noble) over hand-laid ABI words.
    const w = (x: bigint | string) =>
      typeof x === 'string'
        ? x.slice(2).padStart(64, '0')
        : (((1n << 256n) + x) % (1n << 256n)).toString(16).padStart(64, '0');
    const k = (hex: string) => `0x${Buffer.from(keccak_256(Buffer.from(hex, 'hex'))).toString('hex')}`;
    const leaf = (o: Order) =>
      k(
        w(3n) +
          w(k(Buffer.from(o.id).toString('hex'))) +
          w(participantAddress(o.participant)) +
          w(o.side === 'sell' ? 0n : 1n) +
          w(BigInt(o.qty_wh)) +
          w(BigInt(o.price)) +
          w(BigInt(Math.round(o.t_s * 1000))),
      );
    const L = book.orders.map(leaf);
    expect(book.leaves).toEqual(L);
    const zero = `0x${'0'.repeat(64)}`;
    const pair = (a: string, b: string) => k(a.slice(2) + b.slice(2));
    const root = pair(pair(pair(L[0], L[1]), pair(L[2], L[3])), pair(pair(L[4], zero), pair(zero, zero)));
    await ledger.commitOrderBooks([book]);
    for (const a of ledger.chain.authorities)
      expect(await ledger.readBytes32(a, 'orderRoot(uint64,bytes32)', [3n, book.book])).toBe(root);
    for (let i = 0; i < 5; i++) expect(await ledger.proveOrder(book, i)).toBe(true);
    // A changed order (one Wh more) or another position does not prove.
    const forged = { ...book, leaves: [...book.leaves] };
    forged.leaves[3] = leaf({ ...book.orders[3], qty_wh: 21 });
    expect(await ledger.proveOrder(forged, 3)).toBe(false);
    expect(await ledger.proveOrder({ ...book, leaves: [L[1], L[0], ...L.slice(2)] }, 0)).toBe(false);
    // Committed once per book and interval.
    await expect(ledger.commitOrderBooks([book])).rejects.toThrow(/orders already committed/);
  });

  it('accepts the majority hash, settles against meters with penalties, conserves money exactly', async () => {
    const participants = new Map<string, Participant>(
      PEOPLE.map((id) => [id, { id, microgrid: 'mg1', deposit: 0 }]),
    );
    const orders: Order[] = [
      { id: 'a1', participant: 'alice', side: 'sell', qty_wh: 1000, price: 100, t_s: 0 },
      { id: 'b1', participant: 'bob', side: 'buy', qty_wh: 600, price: 200, t_s: 0 },
      { id: 'c1', participant: 'carol', side: 'buy', qty_wh: 600, price: 150, t_s: 1 },
    ];
    const interval = 7n;
    await ledger.commitOrderBooks(bookCommitments(interval, orders, () => 'mg1', 40));
    const cfg = { ...DEFAULT_MARKET_CONFIG, retailPrice: RULES.retailPrice, feedInPrice: RULES.feedInPrice };
    const settlement = settlementOf(Number(interval), clear(orders, participants, cfg));
    const honest = resultHash(settlement);
    // The contract's own abi.encode + keccak agrees with ours.
    const [a0, a1, a2] = ledger.chain.authorities;
    // Settling before any vote is refused.
    await expect(ledger.settle(settlement, new Map())).rejects.toThrow(/no accepted clearing/);
    // One authority submits a conflicting result; the two others agree: the majority wins.
    const forged = bytesToHex(keccak(new TextEncoder().encode('forged')));
    const voting = await ledger.vote(
      interval,
      new Map([
        [a0, forged],
        [a1, honest],
        [a2, honest],
      ]),
    );
    expect(voting.acceptedBy).toHaveLength(3);
    for (const a of ledger.chain.authorities) {
      expect(await ledger.readBytes32(a, 'accepted(uint64)', [interval])).toBe(honest);
    }
    // A settlement that is not the accepted one is refused.
    const tampered = { ...settlement, lines: settlement.lines.map((l) => ({ ...l })) };
    tampered.lines[0].trade += 1n;
    tampered.poolShare -= 1n;
    await expect(ledger.settle(tampered, new Map())).rejects.toThrow(/not the accepted clearing/);

    // Meters: alice delivers 900 of 1000 Wh, bob exactly 600, carol draws 2600 instead of 600.
    const metered = new Map([
      ['alice', 900n],
      ['bob', -600n],
      ['carol', -2600n],
    ]);
    const done = await ledger.settle(settlement, metered);
    expect(done.acceptedBy).toHaveLength(3);
    await expect(ledger.settle(settlement, metered)).rejects.toThrow(/already settled/);

    // Hand calculation (docs/market.md): clearing price 150 (carol's bid is marginal);
    // alice +150 000, bob −90 000, carol −60 000 and her unmatched 200 Wh at retail −50 000.
    // alice: shortfall 100 Wh at retail −25 000; tolerance 10 + 5 % × 1000 = 60 → 40 Wh × 100 = 4 000.
    // carol: 2000 Wh at retail −500 000; tolerance 10 + 30 = 40 → 1960 × 100 = 196 000 penalty,
    // 100 000 from the deposit, 96 000 debt.
    const expected = {
      alice: { balance: 950_000n + 150_000n - 25_000n, deposit: 46_000n, debt: 0n },
      bob: { balance: 950_000n - 90_000n, deposit: 50_000n, debt: 0n },
      carol: { balance: 900_000n - 110_000n - 500_000n, deposit: 0n, debt: 96_000n },
    };
    for (const p of PEOPLE) {
      const views = await ledger.accountOnEvery(p);
      expect(views).toHaveLength(3);
      for (const v of views)
        expect({ ...v, authority: undefined }).toEqual({
          authority: undefined,
          ...expected[p as keyof typeof expected],
        });
    }
    for (let i = 0; i < 3; i++) {
      const a = ledger.chain.authorities[i];
      expect(await ledger.read(a, 'pool()')).toBe(104_000n);
      expect(await ledger.read(a, 'grid()')).toBe(50_000n + 25_000n + 500_000n);
      expect(await ledger.read(a, 'reputationOf(address)', [participantAddress('bob')])).toBe(1n);
      expect(await total(i)).toEqual({ sum: minted, minted });
    }
    // Every block was re-executed by every authority, and they agree on the state.
    for (const o of ledger.chain.log) expect(o.acceptedBy).toHaveLength(3);
    const roots = await Promise.all(ledger.chain.authorities.map((a) => a.stateRoot()));
    expect(new Set(roots).size).toBe(1);
  }, 120_000);

  it('rejects the next block of an authority whose state was corrupted, and goes on without it', async () => {
    const n = ledger.chain.authorities.length;
    const height = (await ledger.chain.authorities[0].head()).header.number + 1n;
    const culprit = ledger.chain.authorities[Number(height % BigInt(n))];
    // Corrupt the culprit's copy of bob's balance directly in its state trie.
    const slotKey = new Uint8Array(32);
    slotKey[31] = 0x42;
    await culprit.vm.stateManager.putStorage(ledger.contract, slotKey, new Uint8Array([0x01, 0x00]));
    const outcome = await ledger.credit(new Map([['bob', 5n]]));
    expect(ledger.chain.refused.at(-1)?.proposer).toBe(culprit.name);
    const rejections = ledger.chain.refused.at(-1)!.rejectedBy;
    expect(rejections).toHaveLength(n - 1);
    for (const r of rejections) expect(r.reason).toMatch(/stateRoot|state root/i);
    // The next authority sealed the block out of turn; the honest ones hold it.
    expect(outcome.proposer).not.toBe(culprit.name);
    expect(ledger.chain.log.at(-1)!.block.header.difficulty).toBe(1n);
    const honest = ledger.chain.authorities.filter((a) => a !== culprit);
    for (const a of honest) {
      expect(await ledger.read(a, 'balanceOf(address)', [participantAddress('bob')])).toBe(860_005n);
    }
    expect(outcome.rejectedBy.map((r) => r.authority)).toEqual([culprit.name]);
  }, 120_000);
});

describe('authorities going offline', () => {
  it('reports a chain that cannot make progress; a returning authority catches up by re-executing', async () => {
    const ledger = await MarketLedger.deploy(3, RULES, 'offline-test');
    const [a, b, c] = ledger.chain.authorities;
    await ledger.chain.setOnline(b, false);
    await ledger.chain.setOnline(c, false);
    await expect(ledger.credit(new Map([['dave', 7n]]))).rejects.toThrow(
      /cannot make progress: 1 of 3 authorities online, 2 needed/,
    );
    expect(await ledger.chain.setOnline(b, true)).toEqual([]);
    const outcome = await ledger.credit(new Map([['dave', 7n]]));
    expect(outcome.acceptedBy.sort()).toEqual([a.name, b.name].sort());
    // c missed the block; back online it imports and re-executes it, then agrees.
    expect(await ledger.read(c, 'balanceOf(address)', [participantAddress('dave')])).toBe(0n);
    expect(await ledger.chain.setOnline(c, true)).toEqual([]);
    for (const x of ledger.chain.authorities)
      expect(await ledger.read(x, 'balanceOf(address)', [participantAddress('dave')])).toBe(7n);
  }, 120_000);
});

describe('money conservation over random intervals (chain)', () => {
  it('per interval: payments in = payments out + grid + penalties to the pool, on every authority', async () => {
    const ledger = await MarketLedger.deploy(3, RULES, 'conservation-test');
    const people = ['p0', 'p1', 'p2', 'p3', 'p4', 'p5'];
    const participants = new Map<string, Participant>(
      people.map((id) => [id, { id, microgrid: 'mg', deposit: 0 }]),
    );
    await ledger.credit(new Map(people.map((p) => [p, 5_000_000n])));
    await ledger.lockDeposits(new Map(people.map((p, i) => [p, BigInt(1000 * (i + 1))])));
    // A small deterministic generator (so a failure replays).
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    const [a0] = ledger.chain.authorities;
    const sumOf = async (sig: string) => {
      let s = 0n;
      for (const p of people) s += await ledger.read(a0, sig, [participantAddress(p)]);
      return s;
    };
    for (let interval = 1n; interval <= 3n; interval++) {
      const orders: Order[] = people.map((p, i) => ({
        id: `o${interval}-${i}`,
        participant: p,
        side: rnd(2) ? 'buy' : 'sell',
        qty_wh: rnd(800),
        price: 40 + rnd(5) * 20,
        t_s: rnd(3),
      }));
      const settlement = settlementOf(
        Number(interval),
        clear(orders, participants, { ...DEFAULT_MARKET_CONFIG, ...RULES }),
      );
      const hash = resultHash(settlement);
      await ledger.vote(interval, new Map(ledger.chain.authorities.map((a) => [a, hash])));
      const metered = new Map(
        settlement.lines.map((l) => [l.participant, l.clearedWh + BigInt(rnd(400) - 200)]),
      );
      // p0's meter is offline this interval: settled as delivered exactly (no deviation, no penalty).
      if (interval === 2n) metered.delete('p0');
      const p0 = participantAddress('p0');
      const p0Before = [
        await ledger.read(a0, 'depositOf(address)', [p0]),
        await ledger.read(a0, 'reputationOf(address)', [p0]),
      ];
      const before = {
        balances: await sumOf('balanceOf(address)'),
        deposits: await sumOf('depositOf(address)'),
        pool: await ledger.read(a0, 'pool()'),
        grid: await ledger.read(a0, 'grid()'),
      };
      await ledger.settle(settlement, metered);
      if (interval === 2n)
        expect([
          await ledger.read(a0, 'depositOf(address)', [p0]),
          await ledger.read(a0, 'reputationOf(address)', [p0]),
        ]).toEqual([p0Before[0], p0Before[1] + 1n]);
      const after = {
        balances: await sumOf('balanceOf(address)'),
        deposits: await sumOf('depositOf(address)'),
        pool: await ledger.read(a0, 'pool()'),
        grid: await ledger.read(a0, 'grid()'),
      };
      // Participants' money moved out (payments in − payments out) went to the grid and the pool.
      const outOfParticipants = before.balances + before.deposits - (after.balances + after.deposits);
      expect(outOfParticipants).toBe(after.grid - before.grid + (after.pool - before.pool));
      // The penalties moved to the pool are exactly what left the deposits.
      expect(after.pool - before.pool - settlement.poolShare).toBe(before.deposits - after.deposits);
    }
    // The penalty and debt paths were exercised.
    expect(await sumOf('debtOf(address)')).toBeGreaterThan(0n);
    // Every authority holds the same figures, and the total is what was minted.
    const pool = await ledger.read(a0, 'pool()');
    expect(pool).toBeGreaterThan(0n);
    for (const a of ledger.chain.authorities) {
      let total = (await ledger.read(a, 'pool()')) + (await ledger.read(a, 'grid()'));
      for (const p of people) {
        total += await ledger.read(a, 'balanceOf(address)', [participantAddress(p)]);
        total += await ledger.read(a, 'depositOf(address)', [participantAddress(p)]);
      }
      expect(total).toBe(await ledger.read(a, 'minted()'));
      expect(await ledger.read(a, 'pool()')).toBe(pool);
    }
  }, 120_000);
});

describe('consensus under attack', () => {
  it('rejects a block sealed by a non-authority and a second block from an equivocating authority', async () => {
    const ledger = await MarketLedger.deploy(3, RULES, 'attack-test');
    await ledger.credit(new Map([['erin', 100n]]));
    const chain = ledger.chain;
    // A node that follows the chain (same genesis, same signer set) but holds a key outside it.
    const outsider = await Authority.create('outsider', authorityKey('somebody-else', 0), chain.signers);
    for (const o of chain.log) expect(await outsider.importBlock(o.block)).toEqual({ ok: true });
    // Sealed without its own chain's consent (which would refuse it) and sent to the authorities.
    const forged = await outsider.propose([], true, false);
    const v1 = await chain.receive(forged);
    expect(v1.acceptedBy).toEqual([]);
    expect(v1.rejectedBy).toHaveLength(3);
    // Clique refuses it: the sealer is not in the signer set (so never in turn, never a valid seal).
    for (const r of v1.rejectedBy)
      expect(r.reason).toMatch(/invalid clique difficulty|invalid PoA block signature/);

    // Out of turn (difficulty 1) it gets as far as the seal check.
    const v1b = await chain.receive(await outsider.propose([], false, false));
    expect(v1b.acceptedBy).toEqual([]);
    for (const r of v1b.rejectedBy) expect(r.reason).toMatch(/invalid PoA block signature \(clique\)/);

    // An equivocating authority: the one in turn seals two different blocks at one height.
    const height = BigInt(chain.log.length) + 1n;
    const turn = chain.authorities[Number(height % 3n)];
    const copy = await Authority.create('copy-of-culprit', turn.key, chain.signers);
    for (const o of chain.log) await copy.importBlock(o.block);
    const a = await ledger.credit(new Map([['erin', 1n]]));
    expect(a.proposer).toBe(turn.name);
    expect(a.acceptedBy).toHaveLength(3);
    const second = await copy.propose([], true);
    expect(second.header.number).toBe(a.blocks[0].number);
    expect(bytesToHex(second.hash())).not.toEqual(a.blocks[0].hash);
    const v2 = await chain.receive(second);
    expect(v2.acceptedBy).toEqual([]);
    for (const r of v2.rejectedBy) expect(r.reason).toMatch(/does not extend its head/);
    for (const x of chain.authorities)
      expect(await ledger.read(x, 'balanceOf(address)', [participantAddress('erin')])).toBe(101n);
  }, 120_000);
});
