/**
 * The meter readings' data (docs/market.md, "Metering"): types only, with no Node.js import, so the
 * market's telemetry (and the web page that reads it) can name them. market/metering.ts signs and
 * checks them.
 */

export interface MeterReading {
  meter: string;
  participant: string;
  /** Interval number (start = interval × interval_s). */
  interval: number;
  /** Net energy over the interval, Wh: export positive, import negative. */
  energy_wh: number;
  /** When the meter closed the reading, s (twin time). */
  t_s: number;
}

export interface SignedReading {
  reading: MeterReading;
  /** Ed25519 signature over the canonical bytes, hex. */
  signature: string;
}

export type ReadingRefusal =
  | 'malformed'
  | 'unknown-meter'
  | 'wrong-participant'
  | 'bad-signature'
  | 'replayed'
  | 'late';

/** A reading accepted by its participant's authority: what goes on the chain and in the points. */
export interface AcceptedReading {
  participant: string;
  meter: string;
  energy_wh: number;
  commitment: string;
}

/** A reading refused by the authority it went to, and why. */
export interface RefusedReading {
  /** The participant and meter the reading named (as sent; '' when it named none). */
  participant: string;
  meter: string;
  interval: number;
  /** The authority whose register refused it (its index). */
  authority: number;
  reason: ReadingRefusal;
  message: string;
}
