import { LOAD_DEFAULTS } from './defaults.ts';
import { hourlyProfile } from './inverter.ts';

export interface LoadModel {
  /** ZIP fractions for P and Q: constant impedance, constant current, constant power. */
  zip: [number, number, number];
  zipQ: [number, number, number];
  /** dP/P per df/f0 (pu/pu) and dQ/Q per df/f0. */
  kpf: number;
  kqf: number;
  /** 24 hourly multipliers of the nominal P and Q, or none (constant). */
  profile?: number[];
  /** May be curtailed by the EMS (demand response) and shed by UFLS. */
  controllable: boolean;
  /** UFLS stage that sheds this load (1-based), 0 = never shed. */
  sheddingStage: number;
}

export function defaultLoadModel(): LoadModel {
  return {
    zip: [...LOAD_DEFAULTS.zip],
    zipQ: [...LOAD_DEFAULTS.zipQ],
    kpf: LOAD_DEFAULTS.kpf,
    kqf: LOAD_DEFAULTS.kqf,
    controllable: false,
    sheddingStage: 0,
  };
}

/**
 * Loads of the twin, structure-of-arrays: nominal P/Q, ZIP and frequency coefficients, a scenario
 * multiplier (load steps), a curtailment factor (demand response) and a connected flag (UFLS,
 * breaker). Evaluating all loads is one loop over typed arrays.
 */
export class LoadBank {
  readonly n: number;
  readonly bus: Int32Array;
  readonly p0: Float64Array;
  readonly q0: Float64Array;
  readonly zip: Float64Array;
  readonly zipQ: Float64Array;
  readonly kpf: Float64Array;
  readonly kqf: Float64Array;
  /** Scenario multiplier (load step events), 1 = nominal. */
  readonly scale: Float64Array;
  /** Extra MW/Mvar added by scenario load steps. */
  readonly extraP: Float64Array;
  readonly extraQ: Float64Array;
  /** 1 − curtailed fraction (controllable loads). */
  readonly curtail: Float64Array;
  readonly connected: Uint8Array;
  /** 1 while the load is disconnected by UFLS (restored by the UFLS restore rule). */
  readonly uflsShed: Uint8Array;
  /** How many loads are shed by UFLS now (restoration looks at nothing while it is 0). */
  uflsShedCount = 0;
  readonly controllable: Uint8Array;
  readonly stage: Int32Array;
  readonly profiles: (number[] | undefined)[];
  /** Profile multiplier per load at `profileHour` (recomputed when the hour moves by > 1 s). */
  private readonly profileMult: Float64Array;
  private profileHour = Number.NaN;
  /** Consumption at the last evaluation, MW / Mvar. */
  readonly p: Float64Array;
  readonly q: Float64Array;

  constructor(
    readonly ids: readonly string[],
    busIndex: readonly number[],
    p_mw: readonly number[],
    q_mvar: readonly number[],
    models: readonly LoadModel[],
  ) {
    const n = ids.length;
    this.n = n;
    this.bus = Int32Array.from(busIndex);
    this.p0 = Float64Array.from(p_mw);
    this.q0 = Float64Array.from(q_mvar);
    this.zip = new Float64Array(3 * n);
    this.zipQ = new Float64Array(3 * n);
    this.kpf = new Float64Array(n);
    this.kqf = new Float64Array(n);
    this.scale = new Float64Array(n).fill(1);
    this.extraP = new Float64Array(n);
    this.extraQ = new Float64Array(n);
    this.curtail = new Float64Array(n).fill(1);
    this.connected = new Uint8Array(n).fill(1);
    this.uflsShed = new Uint8Array(n);
    this.controllable = new Uint8Array(n);
    this.stage = new Int32Array(n);
    this.profiles = [];
    this.p = new Float64Array(n);
    this.q = new Float64Array(n);
    this.profileMult = new Float64Array(n).fill(1);
    for (let i = 0; i < n; i++) {
      const m = models[i];
      this.zip.set(m.zip, 3 * i);
      this.zipQ.set(m.zipQ, 3 * i);
      this.kpf[i] = m.kpf;
      this.kqf[i] = m.kqf;
      this.controllable[i] = m.controllable ? 1 : 0;
      this.stage[i] = m.sheddingStage;
      this.profiles.push(m.profile);
    }
  }

  /** Demand of load i at this hour before curtailment (nominal V and f), MW. */
  nominal(i: number, hour: number): number {
    return this.connected[i] ? this.ifConnected(i, hour) : 0;
  }

  /** What `nominal` would be were load i connected (what reconnecting it adds), MW. */
  ifConnected(i: number, hour: number): number {
    const prof = this.profiles[i];
    const m = prof ? hourlyProfile(prof, hour) : 1;
    return this.p0[i] * m * this.scale[i] + this.extraP[i];
  }

  /** Nominal-voltage, nominal-frequency demand of load i at this hour (before ZIP/f), MW. */
  demand(i: number, hour: number): number {
    const prof = this.profiles[i];
    const m = prof ? hourlyProfile(prof, hour) : 1;
    return this.connected[i] ? (this.p0[i] * m * this.scale[i] + this.extraP[i]) * this.curtail[i] : 0;
  }

  /**
   * Evaluates every load at its bus voltage and its island frequency deviation (pu of f0).
   * `vm` is indexed by bus, `dfPu` by bus (island frequency mapped to buses).
   */
  evaluate(vm: Float64Array, dfPu: Float64Array, hour: number): void {
    const zip = this.zip;
    const zq = this.zipQ;
    if (!(Math.abs(hour - this.profileHour) < 1 / 3600)) {
      this.profileHour = hour;
      for (let i = 0; i < this.n; i++) {
        const prof = this.profiles[i];
        this.profileMult[i] = prof ? hourlyProfile(prof, hour) : 1;
      }
    }
    const mult = this.profileMult;
    for (let i = 0; i < this.n; i++) {
      if (!this.connected[i]) {
        this.p[i] = 0;
        this.q[i] = 0;
        continue;
      }
      const b = this.bus[i];
      const v = vm[b];
      const df = dfPu[b];
      const m = mult[i];
      const c = this.curtail[i];
      const pn = (this.p0[i] * m * this.scale[i] + this.extraP[i]) * c;
      const qn = (this.q0[i] * m * this.scale[i] + this.extraQ[i]) * c;
      const k = 3 * i;
      // Below 0.7 pu the constant-current and constant-power parts become impedances (as
      // PSS/E's PQBRAK): motors stall and drives drop out, and a sagging network stays solvable.
      const brk = v < 0.7 ? (v / 0.7) * (v / 0.7) : 1;
      // Frequency factors floored at 0: the linear model is meant for small deviations.
      const fp = 1 + this.kpf[i] * df;
      const fq = 1 + this.kqf[i] * df;
      this.p[i] = pn * (zip[k] * v * v + (zip[k + 1] * v + zip[k + 2]) * brk) * Math.max(fp, 0);
      this.q[i] = qn * (zq[k] * v * v + (zq[k + 1] * v + zq[k + 2]) * brk) * Math.max(fq, 0);
    }
  }
}
