/**
 * Signed meter readings and the authority's register of them (docs/market.md, "Metering").
 *
 * A meter signs each interval's reading with its own Ed25519 key. The participant's microgrid
 * authority accepts a reading only when it comes from a registered meter for that participant,
 * carries a valid signature, is the first for its (meter, interval) and arrives before the interval's
 * late limit. The raw reading stays with that authority; what it publishes is a commitment
 * (keccak256 of the reading and a salt), and the reading can be proven against it on demand.
 */
import { createHmac, createPrivateKey, createPublicKey, type KeyObject, sign, verify } from 'node:crypto';
import { bytesToHex, keccak } from './ledger/abi.ts';
import type {
  AcceptedReading,
  MeterReading,
  ReadingRefusal,
  RefusedReading,
  SignedReading,
} from './meter-reading.ts';

export type { AcceptedReading, MeterReading, ReadingRefusal, RefusedReading, SignedReading };

export type ReadingVerdict =
  | { ok: true; commitment: string }
  | { ok: false; reason: ReadingRefusal; message: string };

/** The bytes that are signed and committed: fixed field order, no whitespace. */
export function canonicalReading(r: MeterReading): Uint8Array {
  return new TextEncoder().encode(JSON.stringify([r.meter, r.participant, r.interval, r.energy_wh, r.t_s]));
}

export function signReading(reading: MeterReading, privateKey: KeyObject): SignedReading {
  return {
    reading: { ...reading },
    signature: sign(null, canonicalReading(reading), privateKey).toString('hex'),
  };
}

export function commitmentOf(reading: MeterReading, salt: string): string {
  const r = canonicalReading(reading);
  const s = new TextEncoder().encode(salt);
  const both = new Uint8Array(r.length + s.length);
  both.set(r);
  both.set(s, r.length);
  return bytesToHex(keccak(both));
}

export class MeterRegister {
  private readonly meters = new Map<string, { participant: string; key: KeyObject }>();
  /** Accepted raw readings (private to this authority), by `${meter}#${interval}`. */
  private readonly readings = new Map<string, { reading: MeterReading; salt: string; commitment: string }>();
  readonly refused: { reason: ReadingRefusal; message: string }[] = [];

  constructor(
    /** Secret of this authority: salts commitments so a reading cannot be guessed from its hash. */
    private readonly secret: string,
    readonly interval_s = 900,
    /** A reading arriving later than this after its interval ends is refused. @default 300 */
    readonly lateAfter_s = 300,
  ) {}

  register(meter: string, participant: string, publicKey: KeyObject): void {
    this.meters.set(meter, { participant, key: publicKey });
  }

  /** Checks and stores a reading received at `now_s`; never throws, whatever `input` is. */
  accept(input: unknown, now_s: number): ReadingVerdict {
    const verdict = this.check(input, now_s);
    if (!verdict.ok) this.refused.push({ reason: verdict.reason, message: verdict.message });
    return verdict;
  }

  private check(input: unknown, now_s: number): ReadingVerdict {
    const refuse = (reason: ReadingRefusal, message: string): ReadingVerdict => ({
      ok: false,
      reason,
      message,
    });
    const s = input as Partial<SignedReading> | null;
    const r = s?.reading as Partial<MeterReading> | undefined;
    if (
      !r ||
      typeof r !== 'object' ||
      typeof s?.signature !== 'string' ||
      !/^[0-9a-f]+$/.test(s.signature) ||
      typeof r.meter !== 'string' ||
      typeof r.participant !== 'string' ||
      !Number.isSafeInteger(r.interval) ||
      !Number.isSafeInteger(r.energy_wh) ||
      typeof r.t_s !== 'number' ||
      !Number.isFinite(r.t_s)
    )
      return refuse(
        'malformed',
        'reading: expected {reading: {meter, participant, interval, energy_wh, t_s}, signature}',
      );
    const reading = r as MeterReading;
    const meter = this.meters.get(reading.meter);
    if (!meter) return refuse('unknown-meter', `meter ${reading.meter} is not registered`);
    if (meter.participant !== reading.participant)
      return refuse(
        'wrong-participant',
        `meter ${reading.meter} belongs to ${meter.participant}, not ${reading.participant}`,
      );
    if (!verify(null, canonicalReading(reading), meter.key, Buffer.from(s.signature as string, 'hex')))
      return refuse(
        'bad-signature',
        `meter ${reading.meter}, interval ${reading.interval}: signature does not verify`,
      );
    const key = `${reading.meter}#${reading.interval}`;
    if (this.readings.has(key))
      return refuse(
        'replayed',
        `meter ${reading.meter}, interval ${reading.interval}: already has a reading`,
      );
    const deadline = (reading.interval + 1) * this.interval_s + this.lateAfter_s;
    if (now_s > deadline)
      return refuse(
        'late',
        `meter ${reading.meter}, interval ${reading.interval}: received at ${now_s} s, after ${deadline} s`,
      );
    const salt = createHmac('sha256', this.secret).update(key).digest('hex');
    const commitment = commitmentOf(reading, salt);
    this.readings.set(key, { reading: { ...reading }, salt, commitment });
    return { ok: true, commitment };
  }

  /**
   * Metered energy per participant for one interval. A participant whose meter sent nothing is
   * absent: the settlement then takes its cleared position as delivered (the documented default).
   */
  meteredFor(interval: number): Map<string, bigint> {
    const out = new Map<string, bigint>();
    for (const { reading } of this.readings.values())
      if (reading.interval === interval)
        out.set(reading.participant, (out.get(reading.participant) ?? 0n) + BigInt(reading.energy_wh));
    return out;
  }

  /** The raw reading and salt behind a commitment, for a proof on demand. */
  prove(
    meter: string,
    interval: number,
  ): { reading: MeterReading; salt: string; commitment: string } | undefined {
    return this.readings.get(`${meter}#${interval}`);
  }
}

/** A meter's Ed25519 key, derived from the run's seed and its id (the same run signs the same way). */
export function meterKeyOf(seed: string, meter: string): KeyObject {
  // PKCS#8 DER prefix of an Ed25519 private key, then the 32-byte seed.
  const prefix = Buffer.from('302e020100300506032b657004220420', 'hex');
  const secret = keccak(new TextEncoder().encode(`gridloop-meter:${seed}:${meter}`));
  return createPrivateKey({ key: Buffer.concat([prefix, secret]), format: 'der', type: 'pkcs8' });
}

/**
 * Every participant's meter and the registers of the authorities (docs/market.md, "The market day on
 * the chain"): `meter:<participant>` signs with a key derived from the seed; microgrid i's meters are
 * registered with authority i mod n, whose register (secret `<seed>/authority<i>`) accepts or refuses
 * their readings. The market day in `simulate` and the live market read their meters through it.
 */
export class ParticipantMeterBank {
  readonly registers: MeterRegister[];
  /** Microgrid → the authority its meters (and its order book) belong to. */
  readonly authorityOfMicrogrid: ReadonlyMap<string, number>;
  private readonly authorityOf = new Map<string, number>();
  private readonly keys = new Map<string, KeyObject>();

  constructor(
    seed: string,
    /** Participant id → its microgrid. */
    participants: ReadonlyMap<string, { microgrid: string }>,
    /** The grid's microgrids, in the catalog's order. */
    microgrids: readonly string[],
    authorities: number,
    interval_s: number,
    lateAfter_s?: number,
  ) {
    this.registers = Array.from(
      { length: authorities },
      (_, i) => new MeterRegister(`${seed}/authority${i}`, interval_s, lateAfter_s),
    );
    const mgIndex = new Map(microgrids.map((m, i) => [m, i % authorities]));
    this.authorityOfMicrogrid = mgIndex;
    for (const p of [...participants.keys()].sort()) {
      const a = mgIndex.get(participants.get(p)!.microgrid) ?? 0;
      this.authorityOf.set(p, a);
      const key = meterKeyOf(seed, `meter:${p}`);
      this.keys.set(p, key);
      this.registers[a]!.register(`meter:${p}`, p, createPublicKey(key));
    }
  }

  /**
   * Each participant's meter signs its energy over interval `interval` (rounded to whole Wh) at
   * `t_s`; its authority checks it at `now_s` (a meter's own reading fails only when a reading for
   * the interval was already taken).
   */
  read(
    interval: number,
    energy: ReadonlyMap<string, number>,
    t_s: number,
    now_s = t_s,
  ): { accepted: AcceptedReading[]; refused: RefusedReading[] } {
    const accepted: AcceptedReading[] = [];
    const refused: RefusedReading[] = [];
    for (const [p, key] of this.keys) {
      const reading = {
        meter: `meter:${p}`,
        participant: p,
        interval,
        energy_wh: Math.round(energy.get(p) ?? 0),
        t_s,
      };
      const a = this.authorityOf.get(p)!;
      const v = this.registers[a]!.accept(signReading(reading, key), now_s);
      if (v.ok)
        accepted.push({
          participant: p,
          meter: reading.meter,
          energy_wh: reading.energy_wh,
          commitment: v.commitment,
        });
      else
        refused.push({
          participant: p,
          meter: reading.meter,
          interval,
          authority: a,
          reason: v.reason,
          message: v.message,
        });
    }
    return { accepted, refused };
  }

  /**
   * A reading from outside (a meter's own message, anything at all): checked by the register of the
   * authority its participant belongs to (authority 0 for a participant nobody knows, which then
   * refuses it as from an unknown meter). Never throws.
   */
  accept(
    input: unknown,
    now_s: number,
  ): { ok: true; commitment: string } | { ok: false; refused: RefusedReading } {
    const r = (input as { reading?: Partial<MeterReading> } | null)?.reading;
    const participant = typeof r?.participant === 'string' ? r.participant : '';
    const meter = typeof r?.meter === 'string' ? r.meter : '';
    const interval = Number.isSafeInteger(r?.interval) ? (r!.interval as number) : -1;
    const authority = this.authorityOf.get(participant) ?? 0;
    const v = this.registers[authority]!.accept(input, now_s);
    if (v.ok) return v;
    return {
      ok: false,
      refused: { participant, meter, interval, authority, reason: v.reason, message: v.message },
    };
  }

  /** The metered energy every authority accepted for `interval`, per participant, Wh. */
  meteredFor(interval: number): Map<string, bigint> {
    const out = new Map<string, bigint>();
    for (const r of this.registers) for (const [p, e] of r.meteredFor(interval)) out.set(p, e);
    return out;
  }
}
