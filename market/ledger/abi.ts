/**
 * The few Solidity ABI encodings the market ledger needs: static 32-byte words (uint, int, bytes32,
 * address, bool), dynamic arrays of them, and `bytes`. Enough for MarketLedger.sol's functions; anything else
 * is refused with a TypeError rather than encoded wrongly.
 */
import { createKeccak } from 'hash-wasm';

/** Keccak-256 compiled to WebAssembly: ten times the speed of the JavaScript one, and keccak is the
 * chain's hot spot (state-trie hashing). One instance, used synchronously, so calls never interleave. */
const hasher = await createKeccak(256);

export type AbiValue = bigint | number | string | boolean | Uint8Array | AbiValue[];

const WORD = 32;
const MOD = 1n << 256n;

export function selector(signature: string): Uint8Array {
  return keccak(new TextEncoder().encode(signature)).slice(0, 4);
}

function word(type: string, value: AbiValue): Uint8Array {
  const out = new Uint8Array(WORD);
  let n: bigint;
  if (type === 'address' || type === 'bytes32') {
    if (typeof value !== 'string' || !/^0x[0-9a-fA-F]*$/.test(value))
      throw new TypeError(`${type}: hex string expected`);
    const hex = value.slice(2);
    const bytes = hexToBytes(hex);
    if (type === 'address') {
      if (bytes.length !== 20) throw new TypeError('address: 20 bytes expected');
      out.set(bytes, 12);
    } else {
      if (bytes.length !== 32) throw new TypeError('bytes32: 32 bytes expected');
      out.set(bytes);
    }
    return out;
  }
  if (type === 'bool') n = value ? 1n : 0n;
  else if (/^u?int\d*$/.test(type)) {
    if (typeof value !== 'bigint' && typeof value !== 'number')
      throw new TypeError(`${type}: number expected`);
    if (typeof value === 'number' && !Number.isSafeInteger(value))
      throw new TypeError(`${type}: ${value} is not a safe integer`);
    n = BigInt(value);
    if (type.startsWith('u') && n < 0n) throw new TypeError(`${type}: negative value ${n}`);
    if (n < 0n) n += MOD;
  } else throw new TypeError(`abi: type ${type} not supported`);
  for (let i = WORD - 1; i >= 0 && n > 0n; i--) {
    out[i] = Number(n & 0xffn);
    n >>= 8n;
  }
  return out;
}

/** ABI-encodes `values` as the arguments of types (static words and `T[]` arrays of them). */
export function encodeArgs(types: readonly string[], values: readonly AbiValue[]): Uint8Array {
  if (types.length !== values.length) throw new TypeError('abi: argument count mismatch');
  const heads: Uint8Array[] = [];
  const tails: Uint8Array[] = [];
  let tailOffset = types.length * WORD;
  types.forEach((type, i) => {
    if (type === 'bytes') {
      const v = values[i];
      if (!(v instanceof Uint8Array)) throw new TypeError('bytes: Uint8Array expected');
      const padded = new Uint8Array(Math.ceil(v.length / WORD) * WORD);
      padded.set(v);
      heads.push(word('uint256', tailOffset));
      tails.push(word('uint256', v.length), padded);
      tailOffset += WORD + padded.length;
    } else if (type.endsWith('[]')) {
      const items = values[i];
      if (!Array.isArray(items)) throw new TypeError(`${type}: array expected`);
      const inner = type.slice(0, -2);
      heads.push(word('uint256', tailOffset));
      tails.push(word('uint256', items.length), ...items.map((v) => word(inner, v)));
      tailOffset += (items.length + 1) * WORD;
    } else heads.push(word(type, values[i]));
  });
  return concat([...heads, ...tails]);
}

export function encodeCall(signature: string, values: readonly AbiValue[]): Uint8Array {
  const types = signature
    .slice(signature.indexOf('(') + 1, -1)
    .split(',')
    .filter(Boolean);
  return concat([selector(signature), encodeArgs(types, values)]);
}

/** Reads the i-th 32-byte word of return data as a signed or unsigned integer. */
export function decodeWord(data: Uint8Array, i = 0, signed = true): bigint {
  let n = 0n;
  for (let k = 0; k < WORD; k++) n = (n << 8n) | BigInt(data[i * WORD + k] ?? 0);
  return signed && n >= MOD / 2n ? n - MOD : n;
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function hexToBytes(hex: string): Uint8Array {
  const h = hex.startsWith('0x') ? hex.slice(2) : hex;
  if (h.length % 2 !== 0) throw new TypeError('hex: odd length');
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export function bytesToHex(bytes: Uint8Array): string {
  return `0x${Buffer.from(bytes).toString('hex')}`;
}

export function keccak(data: Uint8Array): Uint8Array {
  hasher.init();
  hasher.update(data);
  return hasher.digest('binary');
}
