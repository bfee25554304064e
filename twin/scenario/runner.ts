/**
 * Runs a scenario on the twin as fast as possible: builds the twin from the scenario's grid,
 * applies the initial state, schedules the events, steps to the end feeding the assertions, and
 * reports. `onStep` sees every state (for recording); `onProgress` is called about 100 times.
 */
import { readFile } from 'node:fs/promises';
import type { DeviceInput, TwinState } from '../api.ts';
import { type Controller, OwnershipConflict } from '../control/contract.ts';
import { loadGridFile } from '../files.ts';
import { GridInputError } from '../grid/model.ts';
import { Twin, type TwinAction, type TwinSolverStats } from '../twin.ts';
import { type AssertionOutcome, AssertionSet, type ExternalAssertions } from './assertions.ts';
import { parseGridTrace, type Scenario, ScenarioError, type ScenarioEvent } from './load.ts';

export interface ScenarioRunResult {
  passed: boolean;
  assertions: AssertionOutcome[];
  steps: number;
  simulated_s: number;
  wall_s: number;
  eventCount: number;
  /** The run was stopped through `options.signal` before its end (steps = those run). */
  interrupted: boolean;
  /** Network-solver work of the run: solves, factorisations, structure rebuilds by cause. */
  solver: TwinSolverStats;
}

export interface RunOptions {
  onStep?: (state: TwinState, twin: Twin) => void;
  onProgress?: (fraction: number) => void;
  /** Override the scenario's step. */
  dt_s?: number;
  /**
   * Controllers attached to the run (docs/twin.md, "Controllers"), made fresh for it: they run on
   * the twin's clock inside the step, so the run stays deterministic.
   */
  controllers?: () => readonly Controller[];
  /** Trackers of the assertions about the attached controllers (a VPP's: vpp-* types). */
  assertions?: ExternalAssertions;
  /** Simulated controllers: device inputs for the next step, given the twin (default: none). */
  inputs?: (twin: Twin) => readonly DeviceInput[];
  /**
   * Stops the run at the next step once aborted. With a signal the run lets the event loop turn
   * every ~50 ms of wall time (so a SIGINT handler, timers and file writes get their turn).
   */
  signal?: AbortSignal;
}

/** Wall time between two turns of the event loop when a run can be interrupted, ms. */
const YIELD_EVERY_MS = 50;

/** Turns a scenario event into a twin action. */
export function actionOf(e: ScenarioEvent): TwinAction {
  const g = (k: string) => e[k] as never;
  switch (e.action) {
    case 'breaker':
      return { kind: 'breaker', id: g('id'), closed: g('closed') };
    case 'load-step':
      return {
        kind: 'load-step',
        load: g('load'),
        bus: g('bus'),
        delta_mw: g('delta_mw'),
        delta_mvar: g('delta_mvar'),
        scale: g('scale'),
      };
    case 'generator-trip':
    case 'unit-start':
      return { kind: e.action, unit: g('unit') };
    case 'irradiance':
    case 'wind':
      return { kind: e.action, unit: g('unit'), scale: g('scale') };
    case 'fault':
      return {
        kind: 'fault',
        bus: g('bus'),
        r_ohm: g('r_ohm'),
        x_ohm: g('x_ohm'),
        r_pu: g('r_pu'),
        x_pu: g('x_pu'),
        duration_s: g('duration_s'),
        clearBy: g('clearBy'),
      };
    case 'fid-setpoint':
      return { kind: 'fid-setpoint', fidId: g('fid'), p_mw: g('p_mw') };
    case 'fid-mode':
      return { kind: 'fid-mode', fidId: g('fid'), mode: g('mode') };
    case 'grid-frequency':
    case 'grid-voltage':
      return {
        kind: 'grid-disturbance',
        quantity: e.action === 'grid-frequency' ? 'frequency' : 'voltage',
        shape: g('shape'),
        delta: g('delta'),
        start_s: e.at,
        duration_s: g('duration_s'),
        rampTime_s: g('rampTime_s'),
        period_s: g('period_s'),
      };
    case 'island':
    case 'reconnect':
      return { kind: 'island', microgrid: g('microgrid'), islanded: e.action === 'island' };
    case 'ems-mode':
      return { kind: 'ems-mode', microgrid: g('microgrid'), mode: g('mode') };
    case 'setpoint':
      return { kind: 'setpoint', deviceId: g('device'), p_mw: g('p_mw'), q_mvar: g('q_mvar') };
    case 'emergency-stop':
      return { kind: 'emergency-stop' };
    case 'load-curtail':
      return { kind: 'load-curtail', load: g('load'), fraction: g('fraction') };
    default:
      throw new TypeError(`unknown action '${e.action}'`);
  }
}

/** Checks that every id an event or assertion names exists in the twin. */
export function checkReferences(s: Scenario, twin: Twin): void {
  const fail = (what: string, i: number, field: string, kind: 'events' | 'assertions') => {
    throw new ScenarioError(what, s.file, s.lines[kind][i], `/${kind}/${i}/${field}`);
  };
  const buses = new Set(twin.state.busIds);
  const microgrids = new Set(twin.grid.microgrids.map((m) => m.id));
  const fids = new Set(twin.fids.map((f) => f.id));
  const loads = new Set(twin.loads.ids);
  const devices = new Set([...twin.unitById.keys(), ...twin.hardwareById.keys()]);
  s.events.forEach((e, i) => {
    const has = (field: string, set: Set<string>, what: string) => {
      const v = e[field];
      if (typeof v === 'string' && !set.has(v)) fail(`unknown ${what} '${v}'`, i, field, 'events');
    };
    if (e.action === 'breaker' && !twin.breakers.has(e.id as string))
      fail(`unknown breaker '${e.id as string}'`, i, 'id', 'events');
    has('bus', buses, 'bus');
    has('load', loads, 'load');
    has('unit', new Set(twin.unitById.keys()), 'unit');
    has('fid', fids, 'FID');
    has('device', devices, 'device');
    has('microgrid', microgrids, 'microgrid');
    if (e.action === 'load-step' && e.load === undefined && e.bus === undefined)
      fail('load-step needs load or bus', i, 'action', 'events');
    for (const b of (e.clearBy as string[] | undefined) ?? []) {
      if (!twin.breakers.has(b)) fail(`unknown breaker '${b}'`, i, 'clearBy', 'events');
    }
  });
  // Island ids are a microgrid id, microgrids joined by '+' while connected, or bus-<id> (twin.ts).
  const knownIsland = (id: string) =>
    id.split('+').every((part) => microgrids.has(part)) || (id.startsWith('bus-') && buses.has(id.slice(4)));
  s.assertions.forEach((a, i) => {
    if (typeof a.island === 'string' && !knownIsland(a.island))
      fail(
        `unknown island '${a.island}'; islands are named by microgrid (${[...microgrids].join(', ') || 'none in this grid'}), joined by '+' when connected, or bus-<bus id>`,
        i,
        'island',
        'assertions',
      );
    if (typeof a.unit === 'string' && !devices.has(a.unit))
      fail(`unknown unit '${a.unit}'`, i, 'unit', 'assertions');
    if (typeof a.load === 'string' && !loads.has(a.load))
      fail(`unknown load '${a.load}'`, i, 'load', 'assertions');
    if (typeof a.microgrid === 'string' && !microgrids.has(a.microgrid))
      fail(`unknown microgrid '${a.microgrid}'`, i, 'microgrid', 'assertions');
    if (typeof a.fid === 'string' && !fids.has(a.fid)) fail(`unknown FID '${a.fid}'`, i, 'fid', 'assertions');
    if (a.type === 'power-range' && [a.microgrid, a.unit, a.fid].filter((x) => x !== undefined).length !== 1)
      fail('power-range needs exactly one of microgrid, unit or fid', i, 'type', 'assertions');
    if (a.type === 'no-oscillation' && !twin.unitById.has(a.unit as string))
      fail(`no-oscillation needs a simulated unit, not '${a.unit as string}'`, i, 'unit', 'assertions');
    for (const b of (a.buses as string[] | undefined) ?? [])
      if (!buses.has(b)) fail(`unknown bus '${b}'`, i, 'buses', 'assertions');
  });
}

/**
 * Builds the twin a scenario describes. With `script` (the default) its initial state is applied
 * and its events scheduled; without, the twin is only built and checked, for a ScenarioPlayer to
 * play the script on it.
 */
export async function buildScenarioTwin(
  s: Scenario,
  dt_s = s.dt_s,
  options: { script?: boolean; controllers?: () => readonly Controller[] } = {},
): Promise<Twin> {
  let loaded: Awaited<ReturnType<typeof loadGridFile>>;
  try {
    loaded = await loadGridFile(s.grid);
  } catch (err) {
    if (err instanceof GridInputError)
      throw new ScenarioError(`grid: ${err.message}`, s.file, undefined, '/grid');
    throw err;
  }
  const config = { ...loaded.config, ...(s.twin ?? {}) };
  if (s.startHour !== undefined) config.startHour = s.startHour;
  let gridTrace: ReturnType<typeof parseGridTrace> | undefined;
  if (s.mainGrid?.trace) {
    let text: string;
    try {
      text = await readFile(s.mainGrid.trace, 'utf8');
    } catch (err) {
      throw new ScenarioError(
        `cannot read trace ${s.mainGrid.trace}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
        s.file,
        undefined,
        '/mainGrid/trace',
      );
    }
    gridTrace = parseGridTrace(text, s.mainGrid.trace);
  }
  let twin: Twin;
  try {
    twin = new Twin(loaded.grid, {
      seed: s.seed,
      dt_s,
      config,
      channels: s.channels,
      hardware: s.hardware,
      gridTrace,
      controllers: options.controllers?.(),
    });
  } catch (err) {
    if (err instanceof OwnershipConflict) throw err;
    throw new ScenarioError(`cannot build the twin: ${(err as Error).message}`, s.file);
  }
  checkReferences(s, twin);
  if (options.script === false) return twin;
  for (const action of initialActions(s)) {
    try {
      twin.apply(action);
    } catch (err) {
      throw new ScenarioError((err as Error).message, s.file, undefined, '/initial');
    }
  }
  for (const e of s.events) twin.scheduleAt(e.at, actionOf(e));
  return twin;
}

/** A scenario's initial state (breakers, FID set-points, EMS modes, SoC, load scale) as actions. */
export function initialActions(s: Scenario): TwinAction[] {
  const init = s.initial ?? {};
  const actions: TwinAction[] = [];
  for (const [id, closed] of Object.entries(init.breakers ?? {}))
    actions.push({ kind: 'breaker', id, closed });
  for (const [fidId, p_mw] of Object.entries(init.fids ?? {}))
    actions.push({ kind: 'fid-setpoint', fidId, p_mw });
  for (const [microgrid, mode] of Object.entries(init.ems ?? {}))
    actions.push({ kind: 'ems-mode', microgrid, mode });
  for (const [unit, soc] of Object.entries(init.soc ?? {})) actions.push({ kind: 'soc', unit, soc });
  if (init.loadScale !== undefined) actions.push({ kind: 'load-scale', scale: init.loadScale });
  return actions;
}

export async function runScenario(s: Scenario, options: RunOptions = {}): Promise<ScenarioRunResult> {
  const twin = await buildScenarioTwin(s, options.dt_s ?? s.dt_s, { controllers: options.controllers });
  const assertions = new AssertionSet(s.assertions, twin, { external: options.assertions });
  const steps = Math.round(s.duration_s / twin.dt_s);
  const progressEvery = Math.max(1, Math.floor(steps / 100));
  const none: DeviceInput[] = [];
  let state = twin.state;
  let eventCount = 0;
  const t0 = performance.now();
  const signal = options.signal;
  let lastYield = t0;
  let k = 0;
  for (; k < steps; k++) {
    if (signal) {
      if (k % 64 === 0 && performance.now() - lastYield >= YIELD_EVERY_MS) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
      if (signal.aborted) break;
    }
    state = twin.step(options.inputs ? options.inputs(twin) : none);
    eventCount += state.events.length;
    assertions.update(state, twin);
    options.onStep?.(state, twin);
    if (options.onProgress && (k + 1) % progressEvery === 0) options.onProgress((k + 1) / steps);
  }
  const wall_s = (performance.now() - t0) / 1000;
  const outcomes = assertions.finish(state, twin);
  return {
    passed: outcomes.every((o) => o.passed),
    assertions: outcomes,
    steps: k,
    simulated_s: state.t_s,
    wall_s,
    eventCount,
    interrupted: k < steps,
    solver: twin.stats,
  };
}
