/**
 * Scenario assertions, evaluated online each step (no trace is kept): frequency nadir/zenith,
 * settling, ROCOF, DER trips, IEEE 1547 compliance, voltage range, island state, events, SoC,
 * power range (PCC import, unit output, FID transfer) and set-point oscillation.
 */
import type { IslandState, TwinEvent, TwinState } from '../api.ts';
import { BatteryUnit } from '../der/battery.ts';
import { defaultIeee1547, Ieee1547Protection } from '../ieee1547/functions.ts';
import { TRIP_FUNCTIONS } from '../ieee1547/settings.ts';
import type { Twin } from '../twin.ts';
import type { ScenarioAssertion } from './load.ts';

export interface AssertionOutcome {
  name: string;
  type: string;
  passed: boolean;
  /** The measured figure the assertion is about (nadir Hz, settling time s, …). */
  value?: number | string;
  detail: string;
  /**
   * The span of scenario time the assertion watched, s: its `after`..`until` window (or up to
   * `at`) within the part of the scenario that was run.
   */
  span_s?: [number, number];
}

interface Tracker {
  update(state: TwinState, twin: Twin): void;
  finish(state: TwinState, twin: Twin): AssertionOutcome;
}

/**
 * An assertion about something attached to the run rather than the twin (a VPP's tracking, its
 * agents' convergence): fed the published state each step, judged at the end.
 */
export interface ExternalAssertion {
  update(state: Readonly<TwinState>): void;
  finish(state: Readonly<TwinState>): { passed: boolean; value?: number | string; detail: string };
}

/** Trackers for the assertion kinds the twin does not evaluate itself (undefined: not one of them). */
export type ExternalAssertions = (a: ScenarioAssertion) => ExternalAssertion | undefined;

type Trip = Twin['tripLog'][number];

/** What trackers need beyond the state: the DER trips inside the scenario, on its clock. */
interface ScenarioView {
  trips(twin: Twin): readonly Trip[];
}

const inWindow = (a: ScenarioAssertion, t: number) =>
  t >= ((a.after as number | undefined) ?? 0) &&
  t <= ((a.until as number | undefined) ?? Number.POSITIVE_INFINITY);

function nameOf(a: ScenarioAssertion): string {
  if (a.name) return a.name;
  const parts = Object.entries(a)
    .filter(([k]) => k !== 'type' && k !== 'name')
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join(',') : v}`);
  return `${a.type}${parts.length ? ` ${parts.join(' ')}` : ''}`;
}

/** Trip causes that are commands (a scenario's or an operator's), not protection operating. */
export const COMMANDED_TRIP_CAUSES: ReadonlySet<string> = new Set(['manual trip', 'emergency-stop']);
const COMMANDED = COMMANDED_TRIP_CAUSES;

/** Whether an assertion watches this island: energised, and the one it names if it names one. */
const watches = (island: string | undefined, isl: IslandState): boolean =>
  isl.energised && (island === undefined || isl.id === island);

/** Calls visit(island, t) for every island the assertion watches in this sample, inside its window. */
function eachWatchedIsland(
  a: ScenarioAssertion,
  island: string | undefined,
  s: TwinState,
  visit: (isl: IslandState, t_s: number) => void,
): void {
  if (!inWindow(a, s.t_s)) return;
  for (let i = 0; i < s.islands.length; i++) if (watches(island, s.islands[i])) visit(s.islands[i], s.t_s);
}

/** An assertion that saw no sample checked nothing: that is a failure, never a pass. */
function checkedNothing(name: string, a: ScenarioAssertion, why: string): AssertionOutcome {
  return { name, type: a.type, passed: false, value: 'nothing checked', detail: `checked nothing: ${why}` };
}

function tracker(
  a: ScenarioAssertion,
  twin: Twin,
  view: ScenarioView,
  external: ExternalAssertions | undefined,
): Tracker {
  const name = nameOf(a);
  const ext = external?.(a);
  if (ext)
    return {
      update: (s) => {
        if (inWindow(a, s.t_s)) ext.update(s);
      },
      finish: (s) => ({ name, type: a.type, ...ext.finish(s) }),
    };
  const island = a.island as string | undefined;
  switch (a.type) {
    case 'frequency-nadir':
    case 'frequency-zenith': {
      const low = a.type === 'frequency-nadir';
      let extreme = low ? Number.POSITIVE_INFINITY : Number.NEGATIVE_INFINITY;
      let at = 0;
      const visit = (isl: IslandState, t_s: number): void => {
        const f = isl.f_hz;
        if (low ? f < extreme : f > extreme) {
          extreme = f;
          at = t_s;
        }
      };
      return {
        update: (s) => eachWatchedIsland(a, island, s, visit),
        finish() {
          const limit = (low ? a.min_hz : a.max_hz) as number;
          const seen = Number.isFinite(extreme);
          const passed = seen && (low ? extreme >= limit : extreme <= limit);
          return {
            name,
            type: a.type,
            passed,
            value: seen ? Number(extreme.toFixed(5)) : 'no energised island',
            detail: seen
              ? `${low ? 'nadir' : 'zenith'} ${extreme.toFixed(4)} Hz at ${at.toFixed(3)} s (limit ${limit} Hz)`
              : `island ${island ?? '(any)'} never energised`,
          };
        },
      };
    }
    case 'frequency-settles': {
      const band = a.within_hz as number;
      const target = (a.target_hz as number | undefined) ?? twin.f0_hz;
      let lastOutside = -1;
      let seen = false;
      return {
        update(s) {
          let inside = true;
          let any = false;
          for (let i = 0; i < s.islands.length; i++) {
            const isl = s.islands[i];
            if (!watches(island, isl)) continue;
            any = true;
            if (Math.abs(isl.f_hz - target) > band) inside = false;
          }
          if (any) seen = true;
          if (!any && island !== undefined) inside = false;
          if (!inside) lastOutside = s.t_s;
        },
        finish() {
          const by = a.by as number;
          const passed = seen && lastOutside < by;
          return {
            name,
            type: a.type,
            passed,
            value: lastOutside < 0 ? 0 : Number(lastOutside.toFixed(4)),
            detail:
              lastOutside < 0
                ? `always within ±${band} Hz of ${target} Hz`
                : `last outside ±${band} Hz of ${target} Hz at ${lastOutside.toFixed(3)} s (required by ${by} s)`,
          };
        },
      };
    }
    case 'rocof-max': {
      let worst = 0;
      let seen = false;
      const visit = (isl: IslandState): void => {
        seen = true;
        worst = Math.max(worst, Math.abs(isl.rocof_hz_s));
      };
      return {
        update: (s) => eachWatchedIsland(a, island, s, visit),
        finish() {
          const limit = a.max_hz_s as number;
          if (!seen)
            return checkedNothing(name, a, `island ${island ?? '(any)'} never energised in the window`);
          return {
            name,
            type: a.type,
            passed: worst <= limit,
            value: Number(worst.toFixed(4)),
            detail: `max |ROCOF| ${worst.toFixed(3)} Hz/s (limit ${limit})`,
          };
        },
      };
    }
    case 'no-der-trips': {
      const except = new Set((a.except as string[] | undefined) ?? []);
      return {
        update() {},
        finish(_s, tw) {
          const trips = view.trips(tw).filter((t) => !except.has(t.unit) && !COMMANDED.has(t.cause));
          return {
            name,
            type: a.type,
            passed: trips.length === 0,
            value: trips.length,
            detail:
              trips.length === 0
                ? 'no DER tripped'
                : trips.map((t) => `${t.unit} (${t.cause}) at ${t.t_s.toFixed(3)} s`).join('; '),
          };
        },
      };
    }
    case 'der-trips': {
      return {
        update() {},
        finish(_s, tw) {
          const trip = view.trips(tw).find((t) => t.unit === a.unit && inWindow(a, t.t_s));
          return {
            name,
            type: a.type,
            passed: trip !== undefined,
            value: trip ? Number(trip.t_s.toFixed(4)) : 'none',
            detail: trip
              ? `${trip.unit} tripped (${trip.cause}) at ${trip.t_s.toFixed(3)} s`
              : `${a.unit as string} did not trip`,
          };
        },
      };
    }
    case 'ieee1547-compliance': {
      // Hardware devices must cease to energise by the clearing time the standard demands (Cat II
      // defaults, evaluated on their bus), within 1 % + 2 cycles. Simulated DERs must trip only
      // for a recorded protection cause (never inside the continuous-operation region).
      const tol = (a.tolerance_s as number | undefined) ?? 2 / twin.f0_hz;
      const refs = twin.hardware.map((h) => ({
        h,
        p: new Ieee1547Protection(defaultIeee1547('II'), twin.f0_hz),
        due: -1,
      }));
      const violations: string[] = [];
      return {
        update(s, tw) {
          for (const r of refs) {
            const m = tw.measurementFor(r.h.id);
            if (r.due < 0 && r.p.update(m.vm_pu, m.f_hz, 0, tw.dt_s)) {
              const fn = TRIP_FUNCTIONS.indexOf(r.p.tripCause as (typeof TRIP_FUNCTIONS)[number]);
              r.due = s.t_s + 0.01 * (fn >= 0 ? r.p.clearing_s[fn] : 0) + tol;
            }
            if (r.due >= 0 && s.t_s > r.due && Math.abs(r.h.pDrive_mw) > 0.01 * r.h.rating_mva) {
              violations.push(
                `${r.h.id} still injecting ${r.h.pDrive_mw.toFixed(3)} MW at ${s.t_s.toFixed(3)} s after ${r.p.tripCause} (due ${r.due.toFixed(3)} s)`,
              );
              r.due = Number.POSITIVE_INFINITY;
            }
          }
        },
        finish(_s, tw) {
          for (const t of view.trips(tw)) {
            if (!t.cause.startsWith('IEEE 1547') && t.cause !== 'anti-islanding' && !COMMANDED.has(t.cause)) {
              violations.push(`${t.unit} tripped without a 1547 cause (${t.cause})`);
            }
          }
          return {
            name,
            type: a.type,
            passed: violations.length === 0,
            value: violations.length,
            detail:
              violations.length === 0
                ? `compliant (${refs.length} hardware device(s) checked)`
                : violations.join('; '),
          };
        },
      };
    }
    case 'voltage-range': {
      const min = (a.min_pu as number | undefined) ?? Number.NEGATIVE_INFINITY;
      const max = (a.max_pu as number | undefined) ?? Number.POSITIVE_INFINITY;
      const wanted = a.buses as string[] | undefined;
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      let where = '';
      const idx = wanted
        ? wanted.map((b) => twin.state.busIds.indexOf(b))
        : twin.state.busIds.map((_, i) => i);
      return {
        update(s) {
          if (!inWindow(a, s.t_s)) return;
          for (let k = 0; k < idx.length; k++) {
            const v = s.vm_pu[idx[k]];
            if (v <= 0) continue; // de-energised bus
            if (v < lo) {
              lo = v;
              if (v < min) where = `bus ${s.busIds[idx[k]]} at ${s.t_s.toFixed(3)} s`;
            }
            if (v > hi) {
              hi = v;
              if (v > max) where = `bus ${s.busIds[idx[k]]} at ${s.t_s.toFixed(3)} s`;
            }
          }
        },
        finish() {
          if (lo > hi) return checkedNothing(name, a, 'no energised bus in the window');
          const passed = lo >= min && hi <= max;
          return {
            name,
            type: a.type,
            passed,
            value: `${lo.toFixed(4)}..${hi.toFixed(4)}`,
            detail: `voltages ${lo.toFixed(4)}..${hi.toFixed(4)} pu${passed ? '' : ` (limit ${min}..${max}; first breach ${where})`}`,
          };
        },
      };
    }
    case 'island-state': {
      const at = a.at as number | undefined;
      let snapshot: { energised: boolean; gridConnected: boolean } | null = null;
      let taken = false;
      const take = (s: TwinState) => {
        const isl = s.islands.find((i) => i.id === island);
        snapshot = isl ? { energised: isl.energised, gridConnected: isl.gridConnected } : null;
        taken = true;
      };
      return {
        update(s) {
          if (!taken && at !== undefined && s.t_s >= at - 1e-9) take(s);
        },
        finish(s) {
          if (!taken) take(s);
          const snap = snapshot as { energised: boolean; gridConnected: boolean } | null;
          const passed =
            snap !== null &&
            (a.energised === undefined || snap.energised === a.energised) &&
            (a.gridConnected === undefined || snap.gridConnected === a.gridConnected);
          return {
            name,
            type: a.type,
            passed,
            value: snap ? `energised=${snap.energised} gridConnected=${snap.gridConnected}` : 'absent',
            detail: snap
              ? `${island}: energised ${snap.energised}, grid-connected ${snap.gridConnected}`
              : `no island '${island}' at ${at ?? 'end'}`,
          };
        },
      };
    }
    case 'event-occurs': {
      const expected = (a.expected as boolean | undefined) ?? true;
      const minCount = (a.min_count as number | undefined) ?? 1;
      let first: TwinEvent | undefined;
      let count = 0;
      return {
        update(s) {
          for (const e of s.events) {
            if (
              e.kind === a.kind &&
              (a.target === undefined || e.target === a.target) &&
              inWindow(a, e.t_s)
            ) {
              count++;
              first ??= { ...e };
            }
          }
        },
        finish() {
          const occurred = count >= minCount;
          const times = minCount > 1 ? ` (${count} events, at least ${minCount} required)` : '';
          return {
            name,
            type: a.type,
            passed: occurred === expected,
            value: first ? Number(first.t_s.toFixed(4)) : 'none',
            detail: first
              ? `${first.kind} at ${first.t_s.toFixed(3)} s: ${first.message}${times}`
              : `no '${a.kind as string}' event`,
          };
        },
      };
    }
    case 'load-served': {
      // Connected (not shed by UFLS, not disconnected) and not curtailed at every step.
      const load = twin.loads.ids.indexOf(a.load as string);
      let firstOut = -1;
      let why = '';
      return {
        update(s, tw) {
          if (firstOut >= 0 || !inWindow(a, s.t_s)) return;
          if (!tw.loads.connected[load]) why = 'disconnected';
          else if (tw.loads.curtail[load] < 1)
            why = `curtailed ${(100 * (1 - tw.loads.curtail[load])).toFixed(0)} %`;
          else return;
          firstOut = s.t_s;
        },
        finish() {
          return {
            name,
            type: a.type,
            passed: firstOut < 0,
            value: firstOut < 0 ? 'served' : Number(firstOut.toFixed(4)),
            detail:
              firstOut < 0
                ? `${a.load as string} served throughout`
                : `${a.load as string} ${why} at ${firstOut.toFixed(3)} s`,
          };
        },
      };
    }
    case 'soc-range': {
      const unit = twin.unitById.get(a.unit as string);
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      return {
        update() {
          if (unit instanceof BatteryUnit) {
            if (unit.soc < lo) lo = unit.soc;
            if (unit.soc > hi) hi = unit.soc;
          }
        },
        finish() {
          const min = (a.min as number | undefined) ?? 0;
          const max = (a.max as number | undefined) ?? 1;
          const passed = unit instanceof BatteryUnit && lo >= min && hi <= max;
          return {
            name,
            type: a.type,
            passed,
            value: `${lo.toFixed(4)}..${hi.toFixed(4)}`,
            detail: `SoC ${lo.toFixed(4)}..${hi.toFixed(4)} (limit ${min}..${max})`,
          };
        },
      };
    }
    case 'power-range': {
      // PCC import of a microgrid, output of a unit, or what an FID delivers into its side B.
      const read = powerReader(a);
      const min = (a.min_mw as number | undefined) ?? Number.NEGATIVE_INFINITY;
      const max = (a.max_mw as number | undefined) ?? Number.POSITIVE_INFINITY;
      const fraction = (a.fraction as number | undefined) ?? 1;
      let steps = 0;
      let inside = 0;
      let lo = Number.POSITIVE_INFINITY;
      let hi = Number.NEGATIVE_INFINITY;
      let firstOut = -1;
      return {
        update(s, tw) {
          if (!inWindow(a, s.t_s)) return;
          const p = read(s, tw);
          steps++;
          if (p < lo) lo = p;
          if (p > hi) hi = p;
          if (p >= min && p <= max) inside++;
          else if (firstOut < 0) firstOut = s.t_s;
        },
        finish() {
          const share = steps > 0 ? inside / steps : 0;
          const passed = steps > 0 && share >= fraction;
          return {
            name,
            type: a.type,
            passed,
            value: Number(share.toFixed(5)),
            detail:
              steps === 0
                ? 'no step inside the window'
                : `${powerLabel(a)} ${lo.toFixed(4)}..${hi.toFixed(4)} MW, inside ${rangeText(min, max)} in ${(100 * share).toFixed(2)} % of ${steps} steps (required ${(100 * fraction).toFixed(2)} %)${firstOut >= 0 ? `; first outside at ${firstOut.toFixed(3)} s` : ''}`,
          };
        },
      };
    }
    case 'no-oscillation': {
      // A zigzag over the unit's set-point: a turning point is confirmed once the set-point has
      // come back from its extreme by `swing_mw`. An oscillation of period T turns every T/2, so
      // two turning points closer than min_period_s / 2 are a cycle shorter than min_period_s.
      const unit = twin.unitById.get(a.unit as string);
      const swing = a.swing_mw as number;
      const halfPeriod = ((a.min_period_s as number | undefined) ?? 600) / 2;
      let extreme = Number.NaN;
      let extremeAt = 0;
      let direction = 0; // +1 rising, −1 falling, 0 not yet known
      let lastTurn = Number.NEGATIVE_INFINITY;
      let turns = 0;
      let short = 0;
      let shortest = Number.POSITIVE_INFINITY;
      let firstShort = -1;
      const turn = () => {
        turns++;
        const gap = extremeAt - lastTurn;
        if (gap < shortest) shortest = gap;
        if (gap < halfPeriod) {
          short++;
          if (firstShort < 0) firstShort = extremeAt;
        }
        lastTurn = extremeAt;
      };
      return {
        update(s) {
          if (!unit || !inWindow(a, s.t_s)) return;
          const p = unit.reference_mw;
          if (Number.isNaN(extreme) || (direction === 0 && Math.abs(p - extreme) >= swing)) {
            // The first value, then the first move by a swing, set the starting direction.
            direction = Number.isNaN(extreme) ? 0 : Math.sign(p - extreme);
            extreme = p;
            extremeAt = s.t_s;
          } else if (direction !== 0 && (p - extreme) * direction > 0) {
            extreme = p;
            extremeAt = s.t_s;
          } else if (direction !== 0 && (extreme - p) * direction >= swing) {
            turn();
            direction = -direction;
            extreme = p;
            extremeAt = s.t_s;
          }
        },
        finish() {
          return {
            name,
            type: a.type,
            passed: unit !== undefined && short === 0,
            value: short,
            detail:
              short === 0
                ? `${turns} turning point(s) of ≥ ${swing} MW, ${turns > 1 ? `shortest half-cycle ${shortest.toFixed(1)} s` : 'no cycle'} (limit ${halfPeriod} s)`
                : `${short} half-cycle(s) shorter than ${halfPeriod} s (swing ≥ ${swing} MW), first at ${firstShort.toFixed(1)} s, shortest ${shortest.toFixed(1)} s`,
          };
        },
      };
    }
    default:
      throw new TypeError(
        a.type.startsWith('vpp-')
          ? `assertion '${a.type}' needs the run to attach the scenario's VPP (gridloop simulate or gridloop attack)`
          : `unknown assertion type '${a.type}'`,
      );
  }
}

function rangeText(min: number, max: number): string {
  if (!Number.isFinite(min)) return `≤ ${max} MW`;
  if (!Number.isFinite(max)) return `≥ ${min} MW`;
  return `${min}..${max} MW`;
}

/** What a power-range assertion reads each step, MW. */
function powerReader(a: ScenarioAssertion): (s: TwinState, twin: Twin) => number {
  if (typeof a.microgrid === 'string') {
    const id = a.microgrid;
    return (s) => s.microgrids?.[id]?.pcc_p_mw ?? 0;
  }
  if (typeof a.fid === 'string') {
    const id = a.fid;
    return (s) => s.fids?.[id]?.p_b_mw ?? 0;
  }
  const id = a.unit as string;
  return (s) => s.devices[id]?.p_mw ?? 0;
}

function powerLabel(a: ScenarioAssertion): string {
  if (typeof a.microgrid === 'string') return `${a.microgrid} PCC import`;
  if (typeof a.fid === 'string') return `${a.fid} transfer into side B`;
  return `${a.unit as string} output`;
}

export interface AssertionSetOptions {
  /**
   * Maps twin time to scenario time, for a scenario played on a twin that was already running (a
   * ScenarioPlayer). States are fed only while the scenario plays; trips and events before its
   * start (negative scenario time) are not its own. @default identity
   */
  timeOf?: (t_s: number) => number;
  /** Trackers of assertions about what is attached to the run (a VPP). */
  external?: ExternalAssertions;
}

/** All assertions of a scenario, fed once per step. */
export class AssertionSet {
  private readonly trackers: Tracker[];
  private readonly timeOf: ((t_s: number) => number) | undefined;
  /** The state on the scenario's clock (reused: only t_s and events differ from the twin's). */
  private view: TwinState | undefined;
  /** Scenario time of the first state fed, s (the start of every assertion's span). */
  private first_s: number | undefined;

  constructor(
    readonly assertions: readonly ScenarioAssertion[],
    twin: Twin,
    options: AssertionSetOptions = {},
  ) {
    const timeOf = options.timeOf;
    this.timeOf = timeOf;
    const view: ScenarioView = {
      trips: timeOf
        ? (tw) => tw.tripLog.map((t) => ({ ...t, t_s: timeOf(t.t_s) })).filter((t) => t.t_s >= -1e-9)
        : (tw) => tw.tripLog,
    };
    this.trackers = assertions.map((a) => tracker(a, twin, view, options.external));
  }

  private onScenarioClock(state: TwinState): TwinState {
    const timeOf = this.timeOf;
    if (!timeOf) return state;
    this.view = Object.assign(this.view ?? ({} as TwinState), state);
    this.view.t_s = timeOf(state.t_s);
    if (state.events.length > 0) this.view.events = state.events.map((e) => ({ ...e, t_s: timeOf(e.t_s) }));
    return this.view;
  }

  update(state: TwinState, twin: Twin): void {
    const s = this.onScenarioClock(state);
    this.first_s ??= s.t_s - twin.dt_s;
    for (let i = 0; i < this.trackers.length; i++) this.trackers[i].update(s, twin);
  }

  finish(state: TwinState, twin: Twin): AssertionOutcome[] {
    const s = this.onScenarioClock(state);
    const start = Math.max(0, this.first_s ?? s.t_s);
    return this.trackers.map((t, i) => {
      const a = this.assertions[i];
      const from = Math.min(s.t_s, Math.max(start, (a.after as number | undefined) ?? start));
      const to = Math.max(from, Math.min(s.t_s, ((a.until ?? a.at) as number | undefined) ?? s.t_s));
      // Rounded to the ns: accumulated steps leave 1.4999999999 where the scenario said 1.5.
      return { ...t.finish(s, twin), span_s: [Number(from.toFixed(9)), Number(to.toFixed(9))] };
    });
  }
}
