/**
 * Order commitments on the chain (docs/market.md, "Order commitments"): per interval, each
 * microgrid's book of admitted orders is committed as one Merkle root (one storage word per book,
 * not one per order), its leaves in the order of the clearing's tie rule, with the deposit each
 * participant in it needs; any order can later be proven against the root on demand.
 */
import type { Order } from '../orders.ts';
import { bytesToHex, concat, encodeArgs, hexToBytes, keccak } from './abi.ts';
import { participantAddress } from './ledger.ts';

const ZERO = `0x${'0'.repeat(64)}`;

/** A book's key in the contract: keccak256 of its microgrid's id. */
export function bookKey(microgrid: string): string {
  return bytesToHex(keccak(new TextEncoder().encode(microgrid)));
}

/**
 * An order's leaf: keccak256(abi.encode(interval, keccak256(id), participant's address, side (0 sell,
 * 1 buy), qty_wh, price, t_ms)), t_ms = the submission time in whole milliseconds.
 */
export function orderLeaf(interval: bigint, o: Order): string {
  return bytesToHex(
    keccak(
      encodeArgs(
        ['uint64', 'bytes32', 'address', 'uint8', 'uint256', 'int256', 'int256'],
        [
          interval,
          bytesToHex(keccak(new TextEncoder().encode(o.id))),
          participantAddress(o.participant),
          o.side === 'sell' ? 0n : 1n,
          BigInt(o.qty_wh),
          BigInt(o.price),
          BigInt(Math.round(o.t_s * 1000)),
        ],
      ),
    ),
  );
}

/**
 * The orders in the clearing's merit order (its tie rule): sells from the cheapest, then buys from
 * the dearest; at one price the earlier `t_s`, then the lower id (string order).
 */
export function inTieRuleOrder(orders: readonly Order[]): Order[] {
  const key = (o: Order) => (o.side === 'sell' ? o.price : -o.price);
  return [...orders].sort(
    (a, b) =>
      (a.side === b.side ? 0 : a.side === 'sell' ? -1 : 1) ||
      key(a) - key(b) ||
      a.t_s - b.t_s ||
      (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
  );
}

/** The tree's levels from the leaves up, the leaves padded with zero words to a power of two. */
function levels(leaves: readonly string[]): Uint8Array[][] {
  if (leaves.length === 0) throw new RangeError('a Merkle tree needs at least one leaf');
  let level = leaves.map(hexToBytes);
  while ((level.length & (level.length - 1)) !== 0) level.push(hexToBytes(ZERO));
  const out = [level];
  while (level.length > 1) {
    const up: Uint8Array[] = [];
    for (let i = 0; i < level.length; i += 2) up.push(keccak(concat([level[i], level[i + 1]])));
    out.push(up);
    level = up;
  }
  return out;
}

/** Merkle root: parent = keccak256(left ‖ right), leaves padded with zero words to a power of two. */
export function merkleRoot(leaves: readonly string[]): string {
  return bytesToHex(levels(leaves).at(-1)![0]);
}

/** The siblings from leaf `index` up to the root (the contract's `proveOrder` path). */
export function merklePath(leaves: readonly string[], index: number): string[] {
  const tree = levels(leaves);
  const path: string[] = [];
  for (let l = 0, i = index; l < tree.length - 1; l++, i >>= 1) path.push(bytesToHex(tree[l][i ^ 1]));
  return path;
}

/** One microgrid's book of one interval, as committed on the chain. */
export interface BookCommitment {
  interval: bigint;
  microgrid: string;
  /** Its key in the contract (bookKey). */
  book: string;
  /** The admitted orders in tie-rule order; leaves[i] is orders[i]'s leaf. */
  orders: Order[];
  leaves: string[];
  root: string;
  /** Deposit each participant with orders in the book needs, micro-units (Σ qty × depositPerWh). */
  needs: Map<string, bigint>;
}

/** The commitments of an interval's admitted orders: one per microgrid that has orders. */
export function bookCommitments(
  interval: bigint,
  orders: readonly Order[],
  microgridOf: (participant: string) => string | undefined,
  depositPerWh: number,
): BookCommitment[] {
  const byMicrogrid = new Map<string, Order[]>();
  for (const o of orders) {
    const mg = microgridOf(o.participant);
    if (mg === undefined)
      throw new RangeError(`order ${o.id}: participant ${o.participant} has no microgrid`);
    byMicrogrid.set(mg, [...(byMicrogrid.get(mg) ?? []), o]);
  }
  return [...byMicrogrid.keys()].sort().map((microgrid) => {
    const sorted = inTieRuleOrder(byMicrogrid.get(microgrid)!);
    const leaves = sorted.map((o) => orderLeaf(interval, o));
    const needs = new Map<string, bigint>();
    for (const o of sorted)
      needs.set(o.participant, (needs.get(o.participant) ?? 0n) + BigInt(o.qty_wh) * BigInt(depositPerWh));
    return {
      interval,
      microgrid,
      book: bookKey(microgrid),
      orders: sorted,
      leaves,
      root: merkleRoot(leaves),
      needs,
    };
  });
}
