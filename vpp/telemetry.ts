/**
 * What the VPP reports after each decision (docs/vpp.md, "Telemetry"), and the preferences a
 * prosumer may set for its own units. The bench records the telemetry (measurements `vpp` and
 * `vpp_member`, docs/influx-schema.md), shows it on the live page and filters it per prosumer;
 * preferences arrive from the prosumer's socket and reach the VPP as a controller input.
 */
import type { ControllerInput, ControllerTelemetry } from '../twin/control/contract.ts';

/** One member at one decision. Powers in MW, generator convention (a load member: the demand curtailed). */
export interface VppMemberTelemetry {
  id: string;
  kind: 'der' | 'load';
  operator: string;
  prosumer?: string;
  /** The hardware slot (a real board through the device link). */
  hardware?: boolean;
  /** Set-point sent at this decision; null when none was (offline, excluded, opted out, no dispatch yet). */
  setpoint_mw: number | null;
  /** Output measured in the state the decision was made on. */
  measured_mw: number;
  /**
   * Measured output minus the set-point in force over the period that just ended (the previous
   * decision's): how well the member followed; null when it had none.
   */
  tracking_error_mw: number | null;
  /** The limits the decision used (availability, storage energy, ramps, preferences). */
  pmin_mw: number;
  pmax_mw: number;
  soc?: number;
  /** Its prosumer opted out: not dispatched, its output counts. */
  opted_out?: boolean;
}

/** What one operator did, as of the last decision (cumulative figures since the run started). */
export interface OperatorSettlement {
  operator: string;
  markup: number;
  /** Day-ahead allocation of its units, MW. */
  allocation_mw: number;
  /** Its units' real-time set-points, summed; its loads' curtailment; MW. */
  realtime_mw: number;
  dr_mw: number;
  /** Its units' measured output in the state of the decision, MW. */
  delivered_mw: number;
  /** What the real-time re-dispatch chose not to deliver (penalty cheaper than closing it), MW. */
  planned_shortfall_mw: number;
  /** Metered since the start: allocation not delivered, MWh; the penalty for it; paid for curtailment. */
  undelivered_mwh: number;
  penalty: number;
  dr_payment: number;
}

/** The VPP's report after one decision (`VppController.telemetry()`). */
export interface VppTelemetry extends ControllerTelemetry {
  kind: 'vpp';
  vpp: string;
  /** Twin time of the state the decision was made on, s. */
  t_s: number;
  target_mw: number;
  /** Sum of the members' measured outputs, MW. */
  delivered_mw: number;
  /** The incremental cost λ of the dispatch (the VPP's internal price), currency/MWh; null when the structure gives none. */
  price_per_mwh: number | null;
  /** False when the solve failed and the last feasible dispatch was kept (`reason` says why). */
  ok: boolean;
  reason?: string;
  solve_ms: number;
  iterations?: number;
  /** Aggregate flexibility now (the limits the decision used, summed). */
  flexibility: {
    pmin_mw: number;
    pmax_mw: number;
    /** Sum of the members' ramp limits, MW/s; null when one member has none (unlimited). */
    ramp_mw_s: number | null;
    stored_energy_mwh: number;
    storage_room_mwh: number;
    members_online: number;
    members: number;
  };
  members: VppMemberTelemetry[];
  /** Preferences in force, by prosumer id. */
  preferences: Record<string, ProsumerPreferences>;
  /**
   * Bi-level scheduling (vpp/bilevel.ts): the day-ahead interval in force (index from the run's
   * start), the VPP's commitment and what the forecast could clear of it, MW, and per operator its
   * day-ahead allocation, real-time set-points, measured delivery and metered settlement
   * (`price_per_mwh` is then the internal price of the operators' bidding equilibrium).
   */
  bilevel?: {
    interval: number;
    commitment_mw: number;
    cleared_mw: number;
    operators: OperatorSettlement[];
  };
}

/** Whether a controller's telemetry is a VPP's (the bench reads it by this kind). */
export function isVppTelemetry(value: ControllerTelemetry | undefined): value is VppTelemetry {
  return value?.kind === 'vpp' && Array.isArray((value as { members?: unknown }).members);
}

/**
 * What a prosumer may ask of the VPP for its own units. Each message is the prosumer's whole set:
 * a field left out is back to its default.
 */
export interface ProsumerPreferences {
  /**
   * Hours of day (twin clock, 0–24) in which the VPP may move the prosumer's flexible loads (load
   * members): outside it they are not curtailed. `end_h < start_h` wraps past midnight. Default: any time.
   */
  flexible_window?: { start_h: number; end_h: number };
  /** State of charge (0–1) the VPP leaves in the prosumer's batteries (raises `soc_min`). Default: none. */
  battery_reserve?: number;
  /** True: the VPP sends the prosumer's units no set-points (their output still counts). @default false */
  opt_out?: boolean;
}

/** The controller input that carries a prosumer's preferences (`Controller.input`). */
export interface PreferencesInput extends ControllerInput {
  type: 'prosumer-preferences';
  prosumer: string;
  preferences: ProsumerPreferences;
}

export type PreferencesCheck = { ok: true; preferences: ProsumerPreferences } | { ok: false; reason: string };

const PREFERENCE_FIELDS = ['flexible_window', 'battery_reserve', 'opt_out'];

/**
 * Checks preferences as they arrive from outside (a socket message): the reason names the JSON
 * path and what was wrong. Never throws.
 */
export function checkPreferences(value: unknown): PreferencesCheck {
  const fail = (reason: string): PreferencesCheck => ({ ok: false, reason });
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return fail('/: must be an object { flexible_window?, battery_reserve?, opt_out? }');
  const v = value as Record<string, unknown>;
  for (const key of Object.keys(v))
    if (!PREFERENCE_FIELDS.includes(key))
      return fail(`/${key.slice(0, 64)}: unknown field (${PREFERENCE_FIELDS.join(', ')})`);
  const out: ProsumerPreferences = {};
  if (v.flexible_window !== undefined && v.flexible_window !== null) {
    const w = v.flexible_window as Record<string, unknown>;
    if (typeof w !== 'object' || Array.isArray(w))
      return fail('/flexible_window: must be an object { start_h, end_h }');
    for (const key of Object.keys(w))
      if (key !== 'start_h' && key !== 'end_h')
        return fail(`/flexible_window/${key.slice(0, 64)}: unknown field (start_h, end_h)`);
    for (const key of ['start_h', 'end_h'] as const) {
      const h = w[key];
      if (typeof h !== 'number' || !Number.isFinite(h) || h < 0 || h > 24)
        return fail(`/flexible_window/${key}: must be an hour of day within 0…24, got ${JSON.stringify(h)}`);
    }
    out.flexible_window = { start_h: w.start_h as number, end_h: w.end_h as number };
  }
  if (v.battery_reserve !== undefined && v.battery_reserve !== null) {
    const r = v.battery_reserve;
    if (typeof r !== 'number' || !Number.isFinite(r) || r < 0 || r > 1)
      return fail(`/battery_reserve: must be a state of charge within 0…1, got ${JSON.stringify(r)}`);
    out.battery_reserve = r;
  }
  if (v.opt_out !== undefined && v.opt_out !== null) {
    if (typeof v.opt_out !== 'boolean')
      return fail(`/opt_out: must be true or false, got ${JSON.stringify(v.opt_out)}`);
    out.opt_out = v.opt_out;
  }
  return { ok: true, preferences: out };
}

/** Whether `hourOfDay` lies in a flexible-load window (wrapping past midnight when end < start). */
export function inWindow(window: { start_h: number; end_h: number }, hourOfDay: number): boolean {
  const h = ((hourOfDay % 24) + 24) % 24;
  return window.start_h <= window.end_h
    ? h >= window.start_h && h < window.end_h
    : h >= window.start_h || h < window.end_h;
}
