/**
 * Security scenarios: an ordinary scenario (twin/scenario) with a `security:` section declaring
 * attacks, detectors, simulated boards and expected detection outcomes (docs/security.md). The run
 * steps the twin as fast as possible, installs the attacks (ground truth), runs the detectors,
 * measures detection against the labels and checks both the scenario's assertions and the
 * security expectations.
 */
import { createRequire } from 'node:module';
import { Ajv } from 'ajv';
import { isMap, isNode, isScalar, LineCounter, parseDocument } from 'yaml';
import type { TwinState } from '../api.ts';
import type { Controller } from '../control/contract.ts';
import { AlarmLog } from '../detection/alarms.ts';
import { Check, type CheckSpec } from '../detection/checks.ts';
import { computeMetrics, ImpactMeter, type SecurityMetrics } from '../detection/metrics.ts';
import { SeDetector, type SeDetectorOptions } from '../detection/state-estimation.ts';
import { type AssertionOutcome, AssertionSet, type ExternalAssertions } from '../scenario/assertions.ts';
import { parseScenario, readScenarioFile, type Scenario, ScenarioError } from '../scenario/load.ts';
import { buildScenarioTwin } from '../scenario/runner.ts';
import type { Twin } from '../twin.ts';
import type { AttackSpec } from './attacks.ts';
import { AttackEngine, type HostAttackTarget } from './engine.ts';
import { SimulatedBoard, type SimulatedBoardSpec } from './simulated-board.ts';

const require = createRequire(import.meta.url);
const SECURITY_SCHEMA = require('./security.schema.json') as Record<string, unknown>;
const validate = new Ajv({ allErrors: false, strict: false }).compile(SECURITY_SCHEMA);

export interface SecurityExpectation {
  type:
    | 'detected'
    | 'undetected'
    | 'identified'
    | 'false-alarm-fraction'
    | 'false-alarms-per-hour'
    | 'impact';
  name?: string;
  attack?: string;
  by?: string;
  within_s?: number;
  channel?: string;
  detector?: string;
  max?: number;
  min_frequency_deviation_hz?: number;
  max_frequency_deviation_hz?: number;
  min_voltage_pu?: number;
  max_devices_tripped?: number;
  /** `impact` of one attack: bounds on the largest frequency swing (max − min) of an island in its window. */
  min_frequency_swing_hz?: number;
  max_frequency_swing_hz?: number;
  /** `undetected`: pass while at most this share of the detector's evaluations in the attack window alarm. */
  max_alarm_fraction?: number;
}

export interface SecuritySection {
  grace_s?: number;
  estimation?: SeDetectorOptions;
  boards?: SimulatedBoardSpec[];
  checks?: CheckSpec[];
  attacks?: AttackSpec[];
  expect?: SecurityExpectation[];
}

export interface SecurityScenario extends Scenario {
  security: SecuritySection;
  /** Line of each `security.expect` item (messages). */
  expectLines: (number | undefined)[];
  /** Line of each `security.attacks` item (messages). */
  attackLines: (number | undefined)[];
}

/** An attack the engine refused to launch: which one (its index in `security.attacks`) and why. */
export class AttackLaunchError extends TypeError {
  constructor(
    readonly index: number,
    message: string,
  ) {
    super(message);
  }
}

/** Parses a scenario with a security section; errors name file, line and JSON path. */
export function parseSecurityScenario(text: string, file: string): SecurityScenario {
  const base = parseScenario(text, file);
  const raw = (base as Scenario & { security?: unknown }).security ?? {};
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  const lineOf = (segs: (string | number)[]): number | undefined => {
    for (let n = segs.length; n >= 0; n--) {
      const node = n === 0 ? doc.contents : doc.getIn(segs.slice(0, n), true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  const ledger = (raw as { ledger?: { attacks?: unknown } } | null)?.ledger;
  if (ledger !== undefined) {
    // The line of the `ledger:` key itself (lineOf gives its value's first line).
    const section = doc.getIn(['security'], true);
    const key = isMap(section)
      ? section.items.find((p) => isScalar(p.key) && p.key.value === 'ledger')?.key
      : undefined;
    const line =
      isNode(key) && key.range ? lineCounter.linePos(key.range[0]).line : lineOf(['security', 'ledger']);
    throw new ScenarioError(formerLedgerMessage(ledger), file, line, '/security/ledger');
  }
  if (!validate(raw)) {
    const e = validate.errors![0];
    const segs = [
      'security',
      ...e.instancePath
        .split('/')
        .slice(1)
        .map((s) => (/^\d+$/.test(s) ? Number(s) : s)),
    ];
    if (e.keyword === 'additionalProperties')
      segs.push((e.params as { additionalProperty: string }).additionalProperty);
    const why =
      e.keyword === 'additionalProperties'
        ? `unknown property '${(e.params as { additionalProperty: string }).additionalProperty}'`
        : e.keyword === 'enum'
          ? `${e.message}: ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`
          : (e.message ?? 'invalid');
    throw new ScenarioError(why, file, lineOf(segs), `/${segs.join('/')}`);
  }
  const security = raw as SecuritySection;
  (security.attacks ?? []).forEach((a, i) => {
    if (a.start_s > base.duration_s || (a.stop_s !== undefined && a.stop_s <= a.start_s))
      throw new ScenarioError(
        'attack window must start within the run and stop after it starts',
        file,
        lineOf(['security', 'attacks', i]),
        `/security/attacks/${i}`,
      );
  });
  return {
    ...base,
    security,
    expectLines: (security.expect ?? []).map((_, i) => lineOf(['security', 'expect', i])),
    attackLines: (security.attacks ?? []).map((_, i) => lineOf(['security', 'attacks', i])),
  };
}

/**
 * Scenarios of the former `security.ledger` section are refused rather than converted: its
 * `interval` counted the intervals the market delivered, which the new windows in twin time do not
 * know; the message shows the replacement (docs/security.md, "Attacks on the market's ledger").
 */
function formerLedgerMessage(ledger: { attacks?: unknown }): string {
  const first = Array.isArray(ledger.attacks) ? (ledger.attacks[0] as Record<string, unknown>) : undefined;
  const example = first
    ? `{ id: ${first.id ?? 'x'}, kind: ${first.kind ?? '…'}, target: ${
        first.participant !== undefined
          ? `ledger.meter.${first.participant}`
          : first.authority !== undefined
            ? `ledger.authority${first.authority}`
            : 'ledger.chain'
      }, start_s: <the end of the interval it strikes>, stop_s: … }`
    : '{ id, kind, target: ledger.chain | ledger.authority<i> | ledger.meter.<participant>, start_s, stop_s }';
  return `security.ledger is no longer read: ledger attacks are items of security.attacks with a target ledger.* and a window start_s/stop_s in twin time, e.g. ${example}; the number of authorities is market.settlement.authorities (docs/security.md, "Attacks on the market's ledger")`;
}

export async function loadSecurityScenario(file: string): Promise<SecurityScenario> {
  return parseSecurityScenario(await readScenarioFile(file), file);
}

/** Everything a security run needs, wired to one twin; the bench drives `afterStep` itself. */
export class SecurityHarness {
  readonly log = new AlarmLog();
  readonly se?: SeDetector;
  readonly boards: SimulatedBoard[];
  readonly engine: AttackEngine;
  readonly checks: Check[];
  readonly impact: ImpactMeter;

  constructor(
    readonly twin: Twin,
    section: SecuritySection,
    /** Channels the host owns (the bench's `ledger.*`: engine.ts, HostAttackTarget). */
    readonly hosts: readonly HostAttackTarget[] = [],
  ) {
    if (section.estimation) this.se = new SeDetector(twin, section.estimation, this.log);
    this.boards = (section.boards ?? []).map((b) => new SimulatedBoard(twin, b));
    for (const h of hosts) h.attach?.({ log: this.log });
    this.engine = new AttackEngine(twin, { se: this.se, boards: this.boards, hosts: [...hosts] });
    const ctx = {
      twin,
      se: this.se,
      channel: (name: string) => this.engine.channel(name),
      reported: (device: string) => this.boards.find((b) => b.id === device)?.reported(),
    };
    this.checks = (section.checks ?? []).map((c) => new Check(c, ctx, this.log));
    (section.attacks ?? []).forEach((a, i) => {
      try {
        this.engine.launch(a);
      } catch (err) {
        if (err instanceof TypeError) throw new AttackLaunchError(i, err.message);
        throw err;
      }
    });
    this.impact = new ImpactMeter(twin);
  }

  /** Device inputs of the simulated boards for the next step. */
  inputs(): readonly import('../api.ts').DeviceInput[] {
    if (this.boards.length === 1) return this.boards[0].step();
    return this.boards.flatMap((b) => b.step());
  }

  afterStep(state: TwinState): void {
    this.engine.update(state.t_s);
    this.se?.update(state);
    for (const c of this.checks) c.update(state);
    this.impact.update(state);
  }

  metrics(duration_s: number, grace_s = 1): SecurityMetrics {
    return computeMetrics(this.engine.intervals, this.log, duration_s, this.impact, grace_s);
  }
}

export interface SecurityRunResult {
  passed: boolean;
  assertions: AssertionOutcome[];
  expectations: AssertionOutcome[];
  metrics: SecurityMetrics;
  harness: SecurityHarness;
}

export async function runSecurityScenario(
  s: SecurityScenario,
  options: {
    /** After each step; `inputs` are the device inputs the step was given (for a replay log). */
    onStep?: (
      state: TwinState,
      twin: Twin,
      harness: SecurityHarness,
      inputs: readonly import('../api.ts').DeviceInput[],
    ) => void;
    /** Controllers attached to the run (a VPP whose communication network the attacks target). */
    controllers?: () => readonly Controller[];
    /** Trackers of the assertions about them. */
    assertions?: ExternalAssertions;
    /** Channels the host owns (the market's chain: `ledger.*` targets). */
    hosts?: readonly HostAttackTarget[];
  } = {},
): Promise<SecurityRunResult> {
  if ((s.security as { link?: unknown }).link)
    throw new ScenarioError(
      'security.link needs a board in the loop: run it on the bench',
      s.file,
      undefined,
      '/security/link',
    );
  const twin = await buildScenarioTwin(s, s.dt_s, { controllers: options.controllers });
  let harness: SecurityHarness;
  try {
    harness = new SecurityHarness(twin, s.security, options.hosts);
  } catch (err) {
    if (err instanceof AttackLaunchError)
      throw new ScenarioError(
        err.message,
        s.file,
        s.attackLines?.[err.index],
        `/security/attacks/${err.index}`,
      );
    throw new ScenarioError((err as Error).message, s.file, undefined, '/security');
  }
  const assertions = new AssertionSet(s.assertions, twin, { external: options.assertions });
  const steps = Math.round(s.duration_s / twin.dt_s);
  let state = twin.state;
  for (let k = 0; k < steps; k++) {
    const inputs = harness.inputs();
    state = twin.step(inputs);
    assertions.update(state, twin);
    harness.afterStep(state);
    options.onStep?.(state, twin, harness, inputs);
    for (const h of harness.hosts) {
      const owed = h.pending?.();
      if (owed) await owed;
    }
  }
  const hosted: AssertionOutcome[] = [];
  for (const h of harness.hosts) hosted.push(...((await h.finish?.()) ?? []));
  return judgeSecurityRun(s, assertions.finish(state, twin), harness, hosted);
}

/** A security run's verdict: its assertions, the detection metrics and the `security.expect` items. */
export function judgeSecurityRun(
  s: SecurityScenario,
  outcomes: AssertionOutcome[],
  harness: SecurityHarness,
  /** The host targets' own checks (HostAttackTarget.finish: the ledger's balances). */
  hosted: AssertionOutcome[] = [],
) {
  const metrics = harness.metrics(s.duration_s, s.security.grace_s ?? 1);
  const expectations = [...checkExpectations(s, metrics, harness), ...hosted];
  return {
    passed: outcomes.every((o) => o.passed) && expectations.every((o) => o.passed),
    assertions: outcomes,
    expectations,
    metrics,
    harness,
  };
}

/** Evaluates the scenario's `security.expect` items against the metrics. */
export function checkExpectations(
  s: SecurityScenario,
  metrics: SecurityMetrics,
  harness: SecurityHarness,
): AssertionOutcome[] {
  return (s.security.expect ?? []).map((e, i) => checkExpectation(e, metrics, harness, s, i));
}

function checkExpectation(
  e: SecurityExpectation,
  m: SecurityMetrics,
  h: SecurityHarness,
  s: SecurityScenario,
  i: number,
): AssertionOutcome {
  const fail = (why: string): never => {
    throw new ScenarioError(why, s.file, s.expectLines[i], `/security/expect/${i}`);
  };
  const attack = () => m.attacks.find((a) => a.id === e.attack) ?? fail(`unknown attack '${e.attack}'`);
  const detector = (name?: string) =>
    m.detectors.find((d) => d.detector === name) ?? fail(`detector '${name}' never evaluated`);
  const name = e.name ?? `${e.type}${e.attack ? ` ${e.attack}` : ''}${e.by ? ` by ${e.by}` : ''}`;
  switch (e.type) {
    case 'detected': {
      const a = attack();
      const t = e.by ? (a.detectedBy[e.by] ?? null) : a.timeToDetect_s;
      const passed = t !== null && (e.within_s === undefined || t <= e.within_s);
      return {
        name,
        type: e.type,
        passed,
        detail:
          t === null
            ? `not detected${e.by ? ` by ${e.by}` : ''} (alarms by: ${Object.keys(a.detectedBy).join(', ') || 'none'})`
            : `detected after ${t.toFixed(3)} s${e.within_s !== undefined ? ` (limit ${e.within_s} s)` : ''}`,
      };
    }
    case 'undetected': {
      const a = attack();
      const t = e.by ? (a.detectedBy[e.by] ?? null) : a.timeToDetect_s;
      if (e.max_alarm_fraction !== undefined) {
        if (!e.by) fail('max_alarm_fraction needs by: <detector>');
        const inside = h.log.samples.filter(
          (x) => x.detector === e.by && x.t_s >= a.start_s && x.t_s < a.stop_s,
        );
        const share = inside.length ? inside.filter((x) => x.alarm).length / inside.length : 0;
        return {
          name,
          type: e.type,
          passed: share <= e.max_alarm_fraction,
          value: share,
          detail: `${(100 * share).toFixed(1)} % of ${inside.length} evaluations under attack alarmed (limit ${100 * e.max_alarm_fraction} %)`,
        };
      }
      return {
        name,
        type: e.type,
        passed: t === null,
        detail: t === null ? 'not detected, as expected' : `detected after ${t.toFixed(3)} s`,
      };
    }
    case 'identified': {
      const a = attack();
      const hit = h.log.alarms.find(
        (al) => al.t_s >= a.start_s && al.t_s < a.stop_s + m.grace_s && (!e.by || al.detector === e.by),
      );
      const passed = hit?.target === e.channel;
      return { name, type: e.type, passed, detail: `first alarm points at ${hit?.target ?? 'nothing'}` };
    }
    case 'false-alarm-fraction': {
      const d = detector(e.detector);
      return {
        name,
        type: e.type,
        passed: d.falseAlarmFraction <= (e.max ?? 0),
        detail: `${(100 * d.falseAlarmFraction).toFixed(2)} % of ${d.cleanEvaluations} attack-free evaluations`,
      };
    }
    case 'false-alarms-per-hour': {
      const ds = e.detector ? [detector(e.detector)] : m.detectors;
      const rate = ds.reduce((x, d) => x + d.falseAlarmsPerHour, 0);
      return { name, type: e.type, passed: rate <= (e.max ?? 0), detail: `${rate.toFixed(1)} per hour` };
    }
    case 'impact': {
      const dev = e.attack ? attack().maxFrequencyDeviation_hz : m.impact.maxFrequencyDeviation_hz;
      const problems: string[] = [];
      if (e.min_frequency_deviation_hz !== undefined && dev < e.min_frequency_deviation_hz)
        problems.push(`max |Δf| ${dev.toFixed(3)} Hz < ${e.min_frequency_deviation_hz}`);
      if (e.max_frequency_deviation_hz !== undefined && dev > e.max_frequency_deviation_hz)
        problems.push(`max |Δf| ${dev.toFixed(3)} Hz > ${e.max_frequency_deviation_hz}`);
      const swing = e.attack ? attack().frequencySwing_hz : Number.NaN;
      if (e.min_frequency_swing_hz !== undefined && !(swing >= e.min_frequency_swing_hz))
        problems.push(`frequency swing ${swing.toFixed(3)} Hz < ${e.min_frequency_swing_hz}`);
      if (e.max_frequency_swing_hz !== undefined && !(swing <= e.max_frequency_swing_hz))
        problems.push(`frequency swing ${swing.toFixed(3)} Hz > ${e.max_frequency_swing_hz}`);
      if (e.min_voltage_pu !== undefined && m.impact.minVoltage_pu < e.min_voltage_pu)
        problems.push(`min V ${m.impact.minVoltage_pu.toFixed(3)} pu < ${e.min_voltage_pu}`);
      if (e.max_devices_tripped !== undefined && m.impact.devicesTripped > e.max_devices_tripped)
        problems.push(`${m.impact.devicesTripped} devices tripped > ${e.max_devices_tripped}`);
      return {
        name,
        type: e.type,
        passed: problems.length === 0,
        detail:
          problems.join('; ') ||
          `max |Δf| ${dev.toFixed(3)} Hz, min V ${m.impact.minVoltage_pu.toFixed(3)} pu`,
      };
    }
  }
}
