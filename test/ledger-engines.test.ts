/**
 * The same ledger checks on each of the three engines (docs/market.md, "Ledger engines"): the
 * embedded 3-authority Clique chain, hardhat's EDR in process, and the JSON-RPC adapter (viem)
 * against a real `hardhat node` started on 127.0.0.1 by this test. Every figure is read back from
 * contract storage (every authority's own on the embedded chain) and compared with a hand
 * calculation. Blocks are small (4 M gas) so that settling 120 participants must be split.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { clear } from '../market/clearing.ts';
import { bytesToHex, keccak } from '../market/ledger/abi.ts';
import { authorityKey } from '../market/ledger/chain.ts';
import { EmbeddedEngine, type LedgerEngine } from '../market/ledger/engine.ts';
import { createEdrEngine, createJsonRpcEngine } from '../market/ledger/engine-rpc.ts';
import {
  type IntervalSettlement,
  MarketLedger,
  participantAddress,
  resultHash,
  settlementOf,
} from '../market/ledger/ledger.ts';
import { bookCommitments } from '../market/ledger/order-commitment.ts';
import { MeterRegister, signReading } from '../market/metering.ts';
import { DEFAULT_MARKET_CONFIG, type Order, type Participant } from '../market/orders.ts';
import { startHardhatNode } from './servers/index.ts';
import type { LoopbackServer } from './servers/loopback-server.ts';

const RULES = {
  retailPrice: 250,
  feedInPrice: 50,
  toleranceWh: 10,
  tolerancePermille: 50,
  penaltyPerWh: 100,
};
const GAS_LIMIT = 4_000_000n;
const SEED = 'engines-test';

let node: LoopbackServer | undefined;
const backends: { name: string; create(): Promise<LedgerEngine> }[] = [
  { name: 'embedded', create: () => EmbeddedEngine.create({ seed: SEED, blockGasLimit: GAS_LIMIT }) },
  { name: 'edr', create: () => createEdrEngine({ seed: SEED, blockGasLimit: GAS_LIMIT }) },
  {
    name: 'json-rpc',
    async create() {
      node = await startHardhatNode({ blockGasLimit: GAS_LIMIT });
      const keys = [0, 1, 2].map((i) => authorityKey(SEED, i));
      return createJsonRpcEngine({ url: node.url, keys, gasPrice: 0n });
    },
  },
];

afterAll(async () => {
  await node?.dispose();
});

describe.each(backends)('MarketLedger on the $name engine', ({ name, create }) => {
  let ledger: MarketLedger;
  const readers = () => ledger.engine.readers.map((_, i) => i);

  beforeAll(async () => {
    ledger = await MarketLedger.deployOn(await create(), RULES);
    expect(ledger.engine.kind).toBe(name);
  }, 120_000);
  afterAll(() => ledger?.close());

  /** Σ balances + Σ deposits + pool + grid, and minted, on one reader. */
  async function totals(reader: number, people: readonly string[]) {
    let sum = (await ledger.read(reader, 'pool()')) + (await ledger.read(reader, 'grid()'));
    for (const p of people) {
      sum += await ledger.read(reader, 'balanceOf(address)', [participantAddress(p)]);
      sum += await ledger.read(reader, 'depositOf(address)', [participantAddress(p)]);
    }
    return { sum, minted: await ledger.read(reader, 'minted()') };
  }

  it('settles against meters with penalties by the majority clearing; money is conserved exactly', async () => {
    const people = ['alice', 'bob', 'carol'];
    await ledger.credit(new Map(people.map((p) => [p, 1_000_000n])));
    await ledger.lockDeposits(
      new Map([
        ['alice', 50_000n],
        ['bob', 50_000n],
        ['carol', 100_000n],
      ]),
    );
    const big: Order = { id: 'b9', participant: 'bob', side: 'buy', qty_wh: 10_000_000, price: 1, t_s: 0 };
    await expect(ledger.commitOrderBooks(bookCommitments(1n, [big], () => 'mg1', 100))).rejects.toThrow(
      /deposit too small/,
    );
    const participants = new Map<string, Participant>(
      people.map((id) => [id, { id, microgrid: 'mg1', deposit: 0 }]),
    );
    const orders: Order[] = [
      { id: 'a1', participant: 'alice', side: 'sell', qty_wh: 1000, price: 100, t_s: 0 },
      { id: 'b1', participant: 'bob', side: 'buy', qty_wh: 600, price: 200, t_s: 0 },
      { id: 'c1', participant: 'carol', side: 'buy', qty_wh: 600, price: 150, t_s: 1 },
    ];
    const cfg = { ...DEFAULT_MARKET_CONFIG, retailPrice: RULES.retailPrice, feedInPrice: RULES.feedInPrice };
    const settlement = settlementOf(7, clear(orders, participants, cfg));
    // The contract's own hash of the lines agrees with ours.
    expect(
      await ledger.readBytes32(0, 'resultHash(uint64,address[],int256[],int256[],int256,int256)', [
        7n,
        settlement.lines.map((l) => participantAddress(l.participant)),
        settlement.lines.map((l) => l.clearedWh),
        settlement.lines.map((l) => l.trade),
        settlement.poolShare,
        settlement.gridShare,
      ]),
    ).toBe(resultHash(settlement));
    await expect(ledger.settle(settlement, new Map())).rejects.toThrow(/no accepted clearing/);
    const forged = bytesToHex(keccak(new TextEncoder().encode('forged')));
    await ledger.vote(
      7n,
      new Map([
        [0, forged],
        [1, resultHash(settlement)],
        [2, resultHash(settlement)],
      ]),
    );
    const metered = new Map([
      ['alice', 900n],
      ['bob', -600n],
      ['carol', -2600n],
    ]);
    await ledger.settle(settlement, metered);
    await expect(ledger.settle(settlement, metered)).rejects.toThrow(/already settled/);
    // By hand (docs/market.md): clearing price 150; alice +150 000 − 25 000 shortfall at retail,
    // penalty (100 − 60) × 100; carol −110 000 − 500 000, penalty 196 000: 100 000 taken, 96 000 debt.
    const expected = {
      alice: { balance: 1_075_000n, deposit: 46_000n, debt: 0n },
      bob: { balance: 860_000n, deposit: 50_000n, debt: 0n },
      carol: { balance: 290_000n, deposit: 0n, debt: 96_000n },
    };
    for (const p of people)
      for (const v of await ledger.accountOnEvery(p))
        expect({ balance: v.balance, deposit: v.deposit, debt: v.debt }).toEqual(
          expected[p as keyof typeof expected],
        );
    for (const r of readers()) {
      expect(await ledger.read(r, 'pool()')).toBe(104_000n);
      expect(await ledger.read(r, 'grid()')).toBe(575_000n);
      expect(await totals(r, people)).toEqual({ sum: 3_000_000n, minted: 3_000_000n });
    }
  }, 120_000);

  /** 120 participants: each sells or buys 100–1000 Wh, settled as delivered (no deviation). */
  function bigSettlement(interval: bigint): IntervalSettlement {
    const lines = Array.from({ length: 120 }, (_, i) => {
      const wh = BigInt(100 + ((i * 37) % 900));
      const sell = i % 2 === 0;
      return {
        participant: `q${String(i).padStart(3, '0')}`,
        clearedWh: sell ? wh : -wh,
        trade: sell ? wh * 100n : -wh * 120n,
      };
    });
    const sum = lines.reduce((s, l) => s + l.trade, 0n);
    // Buyers pay more than sellers get: the difference goes to the pool.
    return { interval, lines, poolShare: -sum, gridShare: 0n };
  }

  it('splits a settlement over the block gas limit and settles it all', async () => {
    const s = bigSettlement(8n);
    const people = s.lines.map((l) => l.participant);
    await ledger.credit(new Map(people.map((p) => [p, 1_000_000n])));
    const poolBefore = await ledger.read(0, 'pool()');
    await ledger.vote(8n, new Map([0, 1, 2].map((a) => [a, resultHash(s)])));
    expect(ledger.linesPerSlice()).toBeLessThan(s.lines.length / 2);
    const out = await ledger.settle(s, new Map());
    expect(out.blocks.length).toBe(Math.ceil(s.lines.length / ledger.linesPerSlice()));
    for (const b of out.blocks) expect(b.gasUsed).toBeLessThanOrEqual(GAS_LIMIT);
    for (const r of readers()) {
      expect(await ledger.read(r, 'settled(uint64)', [8n])).toBe(1n);
      const accounts = await ledger.accountsOf(people, r);
      expect(accounts.map((a) => [a.balance, a.reputation])).toEqual(
        s.lines.map((l) => [1_000_000n + l.trade, 1n]),
      );
      expect((await ledger.read(r, 'pool()')) - poolBefore).toBe(s.poolShare);
    }
  }, 180_000);

  it('leaves no half-settled interval when a slice reverts mid-batch', async () => {
    const s = bigSettlement(9n);
    await ledger.vote(9n, new Map([0, 1, 2].map((a) => [a, resultHash(s)])));
    const per = ledger.linesPerSlice();
    // A meter value in the second slice that no account can hold: that slice reverts.
    const bad = s.lines[per + 1].participant;
    const people = s.lines.map((l) => l.participant);
    const before = (await ledger.accountsOf(people)).map((a) => a.balance);
    const poolBefore = await ledger.read(0, 'pool()');
    await expect(ledger.settle(s, new Map([[bad, 10n ** 30n]]))).rejects.toThrow(/amount out of range/);
    for (const r of readers()) {
      expect(await ledger.read(r, 'settled(uint64)', [9n])).toBe(0n);
      // The first slice had gone through before the second failed: it was dropped with it.
      expect((await ledger.accountsOf(people, r)).map((a) => a.balance)).toEqual(before);
      expect(await ledger.read(r, 'pool()')).toBe(poolBefore);
      expect(await ledger.read(r, 'progress(uint64)', [9n])).toBe(0n);
    }
    // The honest settlement still goes through afterwards.
    await ledger.settle(s, new Map());
    for (const r of readers()) expect(await ledger.read(r, 'settled(uint64)', [9n])).toBe(1n);
  }, 180_000);

  it('holds meter-reading commitments: the true reading proves, a forged one does not', async () => {
    const register = new MeterRegister('authority-secret');
    const meters = ['m-alice', 'm-bob'].map((id) => ({ id, ...generateKeyPairSync('ed25519') }));
    for (const m of meters) register.register(m.id, m.id.slice(2), m.publicKey);
    const commitments = meters.map((m, i) => {
      const v = register.accept(
        signReading(
          { meter: m.id, participant: m.id.slice(2), interval: 3, energy_wh: 500 - 700 * i, t_s: 3600 },
          m.privateKey,
        ),
        3600,
      );
      if (!v.ok) throw new Error(v.message);
      return { meter: m.id, commitment: v.commitment };
    });
    await ledger.commitReadings(3n, commitments);
    await expect(ledger.commitReadings(3n, commitments.slice(0, 1))).rejects.toThrow(
      /reading already committed/,
    );
    const proof = register.prove('m-alice', 3)!;
    for (const r of readers()) {
      expect(await ledger.proveReading(proof, r)).toBe(true);
      // A forged value, another meter's salt, another interval: refused.
      expect(
        await ledger.proveReading(
          { ...proof, reading: { ...proof.reading, energy_wh: proof.reading.energy_wh + 1 } },
          r,
        ),
      ).toBe(false);
      expect(await ledger.proveReading({ ...proof, salt: register.prove('m-bob', 3)!.salt }, r)).toBe(false);
      expect(await ledger.proveReading({ ...proof, reading: { ...proof.reading, interval: 4 } }, r)).toBe(
        false,
      );
      expect(await ledger.proveReading(register.prove('m-bob', 3)!, r)).toBe(true);
    }
  }, 120_000);
});
