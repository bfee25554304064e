/**
 * Network protection of the twin: under-frequency load shedding (per island, staged, definite
 * time) and definite-time over-current relays on branches. DER trips (IEEE 1547) live with each
 * DER; anti-islanding is decided by the twin when an island loses the main grid unintentionally.
 */

export interface UflsStage {
  f_hz: number;
  delay_s: number;
  /** Fraction of the island's initial load this stage sheds (used to assign loads to stages). */
  fraction: number;
}

/** Default staged scheme for a 50 Hz system (ENTSO-E style: first stage at 49.0 Hz). */
export function defaultUflsStages(f0_hz: number): UflsStage[] {
  const s = f0_hz / 50;
  return [
    { f_hz: 49.0 * s, delay_s: 0.1, fraction: 0.1 },
    { f_hz: 48.7 * s, delay_s: 0.1, fraction: 0.1 },
    { f_hz: 48.4 * s, delay_s: 0.1, fraction: 0.15 },
  ];
}

/**
 * Restoration of shed load (docs/twin.md, "Protection"): once the island's frequency has stayed at
 * or above `f_hz` for `delay_s`, the most recently shed stage's loads are reconnected and that stage
 * re-arms; the next stage waits another `delay_s`. An islanded microgrid restores a stage only when
 * its grid-forming units have the room to pick the load up.
 */
export interface UflsRestore {
  /** false: shed load stays shed and an operated stage never re-arms. @default true */
  enabled?: boolean;
  /** Restore threshold, Hz. @default f0 − 0.2 Hz (49.8 Hz at 50 Hz) */
  f_hz?: number;
  /** Time at or above the threshold before each stage is restored, s. @default 60 */
  delay_s?: number;
}

/** The restore rule with its defaults filled in, or null when restoration is off. */
export function uflsRestoreRule(
  f0_hz: number,
  restore: UflsRestore | undefined,
): { f_hz: number; delay_s: number } | null {
  if (restore?.enabled === false) return null;
  return { f_hz: restore?.f_hz ?? f0_hz - 0.2, delay_s: restore?.delay_s ?? 60 };
}

/**
 * Per-island stage timers. `update` returns the stage (1-based) that operates this step, or 0; an
 * operated stage stays out until `rearm`. `restoreDue` runs the restore timer of `rule`.
 */
export class UnderFrequencyShedding {
  private readonly timers: Float64Array;
  readonly operated: Uint8Array;
  private restoreTimer = 0;

  constructor(
    readonly stages: readonly UflsStage[],
    readonly rule: { f_hz: number; delay_s: number } | null = null,
  ) {
    this.timers = new Float64Array(stages.length);
    this.operated = new Uint8Array(stages.length);
  }

  update(f_hz: number, dt_s: number): number {
    for (let i = 0; i < this.stages.length; i++) {
      if (this.operated[i]) continue;
      const st = this.stages[i];
      this.timers[i] = f_hz < st.f_hz ? this.timers[i] + dt_s : 0;
      if (this.timers[i] >= st.delay_s - dt_s * 0.5) {
        this.operated[i] = 1;
        this.restoreTimer = 0;
        return i + 1;
      }
    }
    return 0;
  }

  /**
   * Advances the restore timer while there is something to restore (`pending`: shed load in the
   * island, or an operated stage); true once the frequency has stayed at or above the rule's
   * threshold for its delay (and until `rearm` restarts the timer).
   */
  restoreDue(f_hz: number, dt_s: number, pending: boolean): boolean {
    const rule = this.rule;
    if (!rule || !pending) {
      this.restoreTimer = 0;
      return false;
    }
    this.restoreTimer = f_hz >= rule.f_hz ? this.restoreTimer + dt_s : 0;
    return this.restoreTimer >= rule.delay_s - dt_s * 0.5;
  }

  /** Whether any stage has operated and not re-armed. */
  get anyOperated(): boolean {
    return this.operated.includes(1);
  }

  /** Re-arms stage `stage` (1-based) and every stage after it; restarts the restore timer. */
  rearmFrom(stage: number): void {
    for (let i = Math.max(stage, 1) - 1; i < this.stages.length; i++) {
      this.operated[i] = 0;
      this.timers[i] = 0;
    }
    this.restoreTimer = 0;
  }

  /** An independent copy (a new island inherits its predecessor's state without sharing it). */
  clone(): UnderFrequencyShedding {
    const c = new UnderFrequencyShedding(this.stages, this.rule);
    c.timers.set(this.timers);
    c.operated.set(this.operated);
    c.restoreTimer = this.restoreTimer;
    return c;
  }

  reset(): void {
    this.timers.fill(0);
    this.operated.fill(0);
    this.restoreTimer = 0;
  }
}

/**
 * Assigns loads to UFLS stages so each stage sheds about its fraction of total load: loads are
 * taken in file order, skipping loads marked never-shed (stage −1). Loads with an explicit stage
 * keep it. Returns the stage per load (0 = not shed).
 */
export function assignSheddingStages(
  p_mw: readonly number[],
  explicit: readonly number[],
  stages: readonly UflsStage[],
): Int32Array {
  const out = Int32Array.from(explicit, (s) => Math.max(s, 0));
  const total = p_mw.reduce((a, b) => a + b, 0);
  let stage = 0;
  let acc = 0;
  let goal = stages.length > 0 ? stages[0].fraction * total : 0;
  for (let i = 0; i < p_mw.length && stage < stages.length; i++) {
    if (explicit[i] !== 0) continue;
    out[i] = stage + 1;
    acc += p_mw[i];
    if (acc >= goal - 1e-12) {
      stage++;
      acc = 0;
      goal = stage < stages.length ? stages[stage].fraction * total : 0;
    }
  }
  return out;
}

export interface OvercurrentSetting {
  /** Branch id the relay protects (opened on trip). */
  branch: string;
  /** Pick-up current, A. */
  pickup_a: number;
  /** Definite-time delay, s. */
  delay_s: number;
}

/** Definite-time over-current relays: a timer per relay while |I| exceeds pick-up. */
export class OvercurrentRelays {
  readonly timers: Float64Array;
  readonly tripped: Uint8Array;

  constructor(readonly settings: readonly OvercurrentSetting[]) {
    this.timers = new Float64Array(settings.length);
    this.tripped = new Uint8Array(settings.length);
  }

  /** Returns the index of a relay that trips this step, or −1. `current_a` is per relay. */
  update(current_a: Float64Array, dt_s: number): number {
    for (let i = 0; i < this.settings.length; i++) {
      if (this.tripped[i]) continue;
      this.timers[i] = current_a[i] > this.settings[i].pickup_a ? this.timers[i] + dt_s : 0;
      if (this.timers[i] >= this.settings[i].delay_s - dt_s * 0.5) {
        this.tripped[i] = 1;
        return i;
      }
    }
    return -1;
  }

  /** Re-arms a relay after its breaker was closed again. */
  rearm(i: number): void {
    this.tripped[i] = 0;
    this.timers[i] = 0;
  }
}
