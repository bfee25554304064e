/**
 * putMany (state.ts) against references: a trie holds the same keys and values as one built by
 * @ethereumjs's own trie from scratch (`put` of every live key, in a shuffled order) — the root is a
 * function of the contents — after every batch of inserts, updates and deletes: deletes that fold
 * branches and extensions, keys that are prefixes of others (values in branches), small inlined
 * nodes. For hashed 32-byte keys (contract storage) also the same root as the library's own
 * put/del applied key by key. Every live key reads back through the library.
 */
import { MerklePatriciaTrie } from '@ethereumjs/mpt';
import { bytesToHex, hexToBytes, MapDB } from '@ethereumjs/util';
import { describe, expect, it } from 'vitest';
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
      for (let seed = 1; seed <= 12; seed++) {
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
