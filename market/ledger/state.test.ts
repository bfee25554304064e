/**
 * putMany (state.ts) against references: a trie holds the same keys and values as one built by
 * @ethereumjs's own trie from scratch (`put` of every live key, in a shuffled order) — the root is a
 * function of the contents — after every batch of inserts, updates and deletes: deletes that fold
 * branches and extensions, keys that are prefixes of others (values in branches), small inlined
 * nodes. For hashed 32-byte keys (contract storage) also the same root as the library's own
 * put/del applied key by key. Every live key reads back through the library. And a chain made by
 * authorities on BatchedStateManager and SealCachingClique re-executes, block for block, to the same
 * state roots on the library's own state manager and Clique checks.
 */
import { cliqueSigner } from '@ethereumjs/block';
import { CliqueConsensus, createBlockchain } from '@ethereumjs/blockchain';
import { ConsensusAlgorithm } from '@ethereumjs/common';
import { MerklePatriciaTrie } from '@ethereumjs/mpt';
import { MerkleStateManager } from '@ethereumjs/statemanager';
import { bytesToHex, hexToBytes, MapDB } from '@ethereumjs/util';
import { createVM, runBlock } from '@ethereumjs/vm';
import { describe, expect, it } from 'vitest';
import { clear } from '../clearing.ts';
import { DEFAULT_MARKET_CONFIG, type Order, type Participant } from '../orders.ts';
import { genesisBlock, makeCommon } from './chain.ts';
import { MarketLedger, resultHash, settlementOf } from './ledger.ts';
import { putMany } from './state.ts';

/** Deterministic pseudo-random numbers (mulberry32). */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const trie = (useKeyHashing: boolean) => new MerklePatriciaTrie({ db: new MapDB(), useKeyHashing });
const bytes = (hex: string) => hexToBytes(hex as `0x${string}`);

/** The library's trie built from scratch with `live`, inserted in a shuffled order. */
async function fresh(live: Map<string, Uint8Array>, hashed: boolean, random: () => number) {
  const t = trie(hashed);
  const entries = [...live].sort(() => random() - 0.5);
  for (const [k, v] of entries) await t.put(bytes(k), v);
  return t;
}

describe('putMany', () => {
  it('holds what the library builds from scratch with the same contents, batch after batch', async () => {
    for (const hashed of [true, false]) {
      for (let seed = 1; seed <= (hashed ? 4 : 10); seed++) {
        const random = rng(seed);
        // Unhashed keys from a small alphabet and of 1–4 bytes: shared prefixes, keys that are
        // prefixes of others, long extensions. Values of 1–3 bytes make inlined (raw) nodes.
        const keyOf = () =>
          hashed
            ? Uint8Array.from({ length: 32 }, () => Math.floor(random() * 256))
            : Uint8Array.from(
                { length: 1 + Math.floor(random() * 4) },
                () => [0, 1, 0x10, 0x11, 0xff][Math.floor(random() * 5)],
              );
        const valueNew = () =>
          Uint8Array.from({ length: random() < 0.5 ? 1 + Math.floor(random() * 3) : 33 }, () =>
            Math.floor(random() * 256),
          );
        const stepwise = trie(hashed);
        const batched = trie(hashed);
        const live = new Map<string, Uint8Array>();
        for (let round = 0; round < 8; round++) {
          const batch = new Map<string, [Uint8Array, Uint8Array]>();
          const n = 1 + Math.floor(random() * (round === 0 ? 40 : 25));
          for (let i = 0; i < n; i++) {
            const existing = [...live.keys()];
            const deleting = existing.length > 0 && random() < 0.35;
            const key = deleting ? bytes(existing[Math.floor(random() * existing.length)]) : keyOf();
            batch.set(bytesToHex(key), [key, deleting ? new Uint8Array(0) : valueNew()]);
          }
          for (const [k, [key, value]] of batch) {
            if (value.length) live.set(k, value);
            else live.delete(k);
            if (hashed) await (value.length ? stepwise.put(key, value) : stepwise.del(key));
          }
          await putMany(batched, [...batch.values()]);
          const where = `seed ${seed} round ${round} ${hashed ? 'hashed' : 'raw'} keys`;
          expect(bytesToHex(batched.root()), where).toBe(
            bytesToHex((await fresh(live, hashed, random)).root()),
          );
          if (hashed) expect(bytesToHex(batched.root()), where).toBe(bytesToHex(stepwise.root()));
        }
        for (const [k, v] of live) expect(await batched.get(bytes(k))).toEqual(v);
      }
    }
  });

  it('empties a trie and fills it again', async () => {
    const batched = trie(true);
    const keys = Array.from({ length: 50 }, (_, i) => Uint8Array.from([i, i * 7]));
    await putMany(
      batched,
      keys.map((k) => [k, Uint8Array.from([1, ...k])]),
    );
    const reference = trie(true);
    for (const k of keys) await reference.put(k, Uint8Array.from([1, ...k]));
    expect(batched.root()).toEqual(reference.root());
    await putMany(
      batched,
      keys.map((k) => [k, new Uint8Array(0)]),
    );
    expect(batched.root()).toEqual(batched.EMPTY_TRIE_ROOT);
    await putMany(batched, [[keys[0], Uint8Array.from([9])]]);
    const one = trie(true);
    await one.put(keys[0], Uint8Array.from([9]));
    expect(batched.root()).toEqual(one.root());
  });
});

describe('BatchedStateManager and SealCachingClique', () => {
  it("make blocks the library's own state manager and Clique checks re-execute to the same state roots", async () => {
    const ledger = await MarketLedger.deploy(
      3,
      { retailPrice: 250, feedInPrice: 50, toleranceWh: 10, tolerancePermille: 50, penaltyPerWh: 100 },
      'state-test',
    );
    const people = Array.from({ length: 40 }, (_, i) => `p${i}`);
    await ledger.credit(new Map(people.map((p, i) => [p, BigInt(1_000 + i)])));
    await ledger.lockDeposits(new Map(people.map((p, i) => [p, BigInt(10 + i)])));
    // A settled interval: every line's account slot rewritten, penalties into debts and the pool.
    const participants = new Map<string, Participant>(
      people.map((id) => [id, { id, microgrid: 'mg', deposit: 0 }]),
    );
    const orders: Order[] = people.map((p, i) => ({
      id: `o${i}`,
      participant: p,
      side: i % 2 ? 'buy' : 'sell',
      qty_wh: 100 + 37 * i,
      price: 60 + 5 * (i % 9),
      t_s: i,
    }));
    const s = settlementOf(1, clear(orders, participants, DEFAULT_MARKET_CONFIG));
    await ledger.vote(1n, new Map([0, 1, 2].map((a) => [a, resultHash(s)])));
    await ledger.settle(
      s,
      new Map(s.lines.map((l, i) => [l.participant, l.clearedWh - BigInt(400 * (i % 4))])),
    );
    const chain = ledger.chain;
    // The library's own parts: plain Common (its own EIP lookup), state manager and Clique checks.
    const common = makeCommon();
    Reflect.deleteProperty(common, 'isActivatedEIP');
    const blockchain = await createBlockchain({
      common,
      genesisBlock: genesisBlock(common, chain.signers),
      validateConsensus: true,
      validateBlocks: true,
      consensusDict: { [ConsensusAlgorithm.Clique]: new CliqueConsensus() },
    });
    const vm = await createVM({
      common,
      blockchain,
      stateManager: new MerkleStateManager({ common }),
      evmOpts: { cliqueSigner: (h) => cliqueSigner(h as Parameters<typeof cliqueSigner>[0]) },
    });
    expect(chain.log.length).toBeGreaterThanOrEqual(5);
    for (const { block } of chain.log) {
      await blockchain.putBlock(block);
      // runBlock throws if the state root, receipts or gas differ from the header's.
      await runBlock(vm, { block, setHardfork: false });
      expect(bytesToHex(await vm.stateManager.getStateRoot())).toBe(bytesToHex(block.header.stateRoot));
    }
  }, 120_000);
});
