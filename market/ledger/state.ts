/**
 * The authorities' state: @ethereumjs's Merkle state manager, with the storage of a block written
 * into each contract's storage trie in one pass (`putMany`) rather than key by key.
 *
 * Why: a settlement block changes ≈ 1,000 storage slots of the market contract. The trie's own
 * `put`, called once per slot, walks from the root and decodes every node on the path, then
 * re-encodes and re-hashes all of them up to the root — so the root's and the upper branches'
 * encodings were computed a thousand times per block, only the last of which counts; and the state
 * manager decoded and re-encoded the contract's account after every slot. `putMany` decodes each
 * node on the touched paths once, applies every change in memory, then encodes and hashes each
 * changed node once, bottom up. The resulting trie is the same (a Merkle Patricia trie is
 * canonical: the same keys and values give the same nodes), which the tests check against the
 * library's own `put`/`del` (market/ledger/state.test.ts).
 */

import {
  BranchMPTNode,
  ExtensionMPTNode,
  LeafMPTNode,
  type MerklePatriciaTrie,
  type MPTNode,
} from '@ethereumjs/mpt';
import { RLP } from '@ethereumjs/rlp';
import { MerkleStateManager } from '@ethereumjs/statemanager';
import {
  type Address,
  createAddressFromString,
  equalsBytes,
  unpadBytes,
  unprefixedHexToBytes,
} from '@ethereumjs/util';

type Nibbles = number[];
/** A child as stored: a node's hash, a node small enough to be inlined (raw), or nothing. */
type Ref = Uint8Array | Uint8Array[];
/** A node being changed, held in memory until the batch is encoded. */
type Mem =
  | { t: 'leaf'; key: Nibbles; value: Uint8Array }
  | { t: 'ext'; key: Nibbles; child: Child }
  | { t: 'branch'; children: Child[]; value: Uint8Array | null };
type Child = Mem | Ref | null;
/** One change: the key's remaining nibbles and its new value (null deletes it). */
interface Op {
  key: Nibbles;
  value: Uint8Array | null;
}

/** What putMany uses of the trie beyond its public interface (the same steps its own put takes). */
interface TrieInternals {
  _lock: { acquire(): Promise<void>; release(): void };
  _db: { batch(ops: unknown[]): Promise<void> };
  _opts: { useNodePruning: boolean };
  appliedKey(key: Uint8Array): Uint8Array;
  _formatNode(node: MPTNode, topLevel: boolean, opStack: unknown[]): Uint8Array | Ref;
}

function nibbles(bytes: Uint8Array): Nibbles {
  const out = new Array<number>(bytes.length * 2);
  for (let i = 0; i < bytes.length; i++) {
    out[2 * i] = bytes[i] >> 4;
    out[2 * i + 1] = bytes[i] & 15;
  }
  return out;
}

function sameKey(a: Nibbles, b: Nibbles): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function isMem(c: Child): c is Mem {
  return c !== null && !(c instanceof Uint8Array) && !Array.isArray(c);
}

function toMem(node: MPTNode): Mem {
  if (node instanceof BranchMPTNode)
    return {
      t: 'branch',
      children: node._branches.map((b) => (b === null || b.length === 0 ? null : (b as Ref))),
      value: node.value(),
    };
  if (node instanceof LeafMPTNode) return { t: 'leaf', key: node.key(), value: node.value() };
  return { t: 'ext', key: node.key(), child: node.value() as Ref };
}

async function resolve(trie: MerklePatriciaTrie, c: Mem | Ref): Promise<Mem> {
  return isMem(c) ? c : toMem(await trie.lookupNode(c));
}

/** A subtrie holding exactly `ops` (all with values, distinct keys). */
function build(ops: Op[]): Mem | null {
  if (ops.length === 0) return null;
  if (ops.length === 1) return { t: 'leaf', key: ops[0].key, value: ops[0].value! };
  let p = ops[0].key.length;
  for (const o of ops) {
    let i = 0;
    while (i < p && i < o.key.length && o.key[i] === ops[0].key[i]) i++;
    p = i;
  }
  if (p > 0)
    return {
      t: 'ext',
      key: ops[0].key.slice(0, p),
      child: build(ops.map((o) => ({ key: o.key.slice(p), value: o.value }))),
    };
  const branch: Mem = { t: 'branch', children: new Array<Child>(16).fill(null), value: null };
  const groups = new Map<number, Op[]>();
  for (const o of ops) {
    if (o.key.length === 0) branch.value = o.value;
    else {
      const g = groups.get(o.key[0]) ?? [];
      g.push({ key: o.key.slice(1), value: o.value });
      groups.set(o.key[0], g);
    }
  }
  for (const [n, g] of groups) branch.children[n] = build(g);
  return branch;
}

/** `child` under the path `prefix`, merged into one node where the trie's rules want it. */
async function withPrefix(trie: MerklePatriciaTrie, prefix: Nibbles, child: Child): Promise<Child> {
  if (child === null || prefix.length === 0) return child;
  const n = await resolve(trie, child);
  if (n.t === 'leaf') return { t: 'leaf', key: [...prefix, ...n.key], value: n.value };
  if (n.t === 'ext') return { t: 'ext', key: [...prefix, ...n.key], child: n.child };
  return { t: 'ext', key: prefix, child };
}

/** The subtrie at `child` with `ops` applied (keys relative to it). */
async function apply(trie: MerklePatriciaTrie, child: Child, ops: Op[]): Promise<Child> {
  if (ops.length === 0) return child;
  if (child === null) return build(ops.filter((o) => o.value !== null));
  const node = await resolve(trie, child);
  if (node.t === 'leaf') {
    const all = ops.some((o) => sameKey(o.key, node.key))
      ? ops
      : [...ops, { key: node.key, value: node.value }];
    return build(all.filter((o) => o.value !== null));
  }
  if (node.t === 'ext') {
    let p = node.key.length;
    for (const o of ops) {
      let i = 0;
      while (i < p && i < o.key.length && o.key[i] === node.key[i]) i++;
      p = i;
    }
    if (p === node.key.length) {
      const below = await apply(
        trie,
        node.child,
        ops.map((o) => ({ key: o.key.slice(p), value: o.value })),
      );
      return withPrefix(trie, node.key, below);
    }
    // A key leaves the extension's path at nibble p: split it there into a branch.
    const split: Mem = { t: 'branch', children: new Array<Child>(16).fill(null), value: null };
    split.children[node.key[p]] =
      node.key.length - p - 1 > 0 ? { t: 'ext', key: node.key.slice(p + 1), child: node.child } : node.child;
    const below = await apply(
      trie,
      split,
      ops.map((o) => ({ key: o.key.slice(p), value: o.value })),
    );
    return withPrefix(trie, node.key.slice(0, p), below);
  }
  const children = node.children.slice();
  let value = node.value;
  const groups = new Map<number, Op[]>();
  for (const o of ops) {
    if (o.key.length === 0) value = o.value;
    else {
      const g = groups.get(o.key[0]) ?? [];
      g.push({ key: o.key.slice(1), value: o.value });
      groups.set(o.key[0], g);
    }
  }
  for (const [n, g] of groups) children[n] = await apply(trie, children[n], g);
  const used = children.flatMap((c, i) => (c === null ? [] : [i]));
  if (used.length === 0) return value === null ? null : { t: 'leaf', key: [], value };
  if (value !== null || used.length >= 2) return { t: 'branch', children, value };
  // One child left and no value: the branch folds into its only child.
  return withPrefix(trie, [used[0]], children[used[0]]);
}

/** Encodes (and stores) the changed nodes bottom up; what the parent refers to the node by. */
function commit(trie: TrieInternals, c: Child, top: boolean, opStack: unknown[]): Ref | null {
  if (c === null) return null;
  if (!isMem(c)) return c;
  let node: MPTNode;
  if (c.t === 'leaf') node = new LeafMPTNode(c.key, c.value);
  else if (c.t === 'ext')
    node = new ExtensionMPTNode(c.key, commit(trie, c.child, false, opStack) as Uint8Array);
  else {
    const branch = new BranchMPTNode();
    for (let i = 0; i < 16; i++)
      branch.setBranch(i, commit(trie, c.children[i], false, opStack) as Uint8Array | null);
    if (c.value !== null) branch.value(c.value);
    node = branch;
  }
  return trie._formatNode(node, top, opStack) as Ref;
}

/**
 * Writes `entries` ([key, value], an empty value deletes the key; keys distinct) into `trie`, giving
 * the root its own put/del one key at a time would. Tries that prune old nodes take the library's path.
 */
export async function putMany(
  trie: MerklePatriciaTrie,
  entries: readonly (readonly [Uint8Array, Uint8Array])[],
): Promise<void> {
  const t = trie as unknown as TrieInternals;
  if (t._opts.useNodePruning) {
    for (const [k, v] of entries) await trie.put(k, v);
    return;
  }
  const ops = entries.map(([k, v]) => ({ key: nibbles(t.appliedKey(k)), value: v.length ? v : null }));
  await t._lock.acquire();
  try {
    const empty = equalsBytes(trie.root(), trie.EMPTY_TRIE_ROOT);
    const root = await apply(trie, empty ? null : trie.root(), ops);
    const opStack: unknown[] = [];
    let hash: Ref | null = null;
    if (isMem(root)) hash = commit(t, root, true, opStack);
    else if (root !== null) hash = root;
    await t._db.batch(opStack);
    trie.root(hash === null ? trie.EMPTY_TRIE_ROOT : (hash as Uint8Array));
    await trie.persistRoot();
  } finally {
    t._lock.release();
  }
}

/**
 * The Merkle state manager, writing a block's changed storage into each account's storage trie
 * with putMany when its caches are flushed (at the end of the block, or of a call), not at every
 * SSTORE as well: the library's putStorage writes the slot through to the trie even when it has
 * cached it (`cache.put(…) ?? write(…)`, and the cache's put returns nothing).
 */
export class BatchedStateManager extends MerkleStateManager {
  override async putStorage(address: Address, key: Uint8Array, value: Uint8Array): Promise<void> {
    const cache = this._caches?.storage;
    if (!cache) return super.putStorage(address, key, value);
    if (key.length !== 32) throw new Error('Storage key must be 32 bytes long');
    if (value.length > 32) throw new Error('Storage value cannot be longer than 32 bytes');
    if (!(await this.getAccount(address))) throw new Error('putStorage() called on non-existing account');
    // Held in the cache, which every read looks at first, until flush writes it to the trie.
    cache.put(address, key, RLP.encode(unpadBytes(value)));
  }

  override async flush(): Promise<void> {
    const items = this._caches?.storage?.flush() ?? [];
    // The library's flush first (code, then accounts); the storage roots change the accounts again,
    // flushed by the second call.
    await super.flush();
    if (items.length === 0) return;
    const byAddress = new Map<string, [Uint8Array, Uint8Array][]>();
    for (const [address, key, value] of items) {
      const decoded = RLP.decode(value ?? new Uint8Array(0)) as Uint8Array;
      const list = byAddress.get(address) ?? [];
      list.push([unprefixedHexToBytes(key), decoded.length ? RLP.encode(decoded) : new Uint8Array(0)]);
      byAddress.set(address, list);
    }
    for (const [hex, entries] of byAddress) {
      const address = createAddressFromString(`0x${hex}`);
      const account = await this.getAccount(address);
      if (!account) continue;
      const trie = this._getStorageTrie(address, account);
      await putMany(trie, entries);
      account.storageRoot = trie.root();
      await this.putAccount(address, account);
    }
    await super.flush();
  }
}
