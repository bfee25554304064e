/**
 * A scenario's VPP inside `gridloop simulate`: its telemetry recorded in the run folder as the live
 * bench records it (`vpp`, `vpp_member`), checked against the twin's own state; and bi-level
 * scheduling (`scheduling: bilevel`) checked against a hand-solved bidding equilibrium, the lower
 * level's closed-form demand response and a penalty metered from the twin's state by the test.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { attackRecorded } from '../bench/attacks/attack-run.ts';
import { executeRun } from '../bench/campaigns/execute.ts';
import { loadCampaign } from '../bench/campaigns/load.ts';
import { main } from '../bench/cli/main.ts';
import { openScenarioRun } from '../bench/cli/scenario-run.ts';
import { marketRunOf } from '../bench/market/market-settlement.ts';
import { readRunPoints } from '../bench/recording/read-run.ts';
import { simulateRecorded } from '../bench/recording/simulate-run.ts';
import { replayRun } from '../bench/replay/replay-run.ts';
import { scenarioVppRun } from '../bench/vpp/scenario.ts';
import type { TwinState } from '../twin/api.ts';
import { loadSecurityScenario } from '../twin/attacks/security.ts';
import { loadScenario, ScenarioError } from '../twin/scenario/load.ts';
import { budget } from './support/machine-speed.ts';

const root = join(import.meta.dirname, '..');
const GRID = join(root, 'grids/demo-33bw-microgrids.yaml');
const MG1 = join(root, 'vpp/portfolios/mg1.yaml');
const MEMBERS = ['chp-4', 'pv-24', 'wind-22', 'fc-20', 'bess-25'];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gridloop-vpp-simulate-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/**
 * Runs the scenario text recorded into `dir/<name>`; returns the run folder and the members'
 * outputs in every state (by twin time in ms).
 */
async function simulateText(name: string, text: string, ids: readonly string[] = MEMBERS) {
  const file = join(dir, `${name}.yaml`);
  writeFileSync(file, text);
  const scenario = await loadScenario(file);
  const states = new Map<number, Record<string, number>>();
  const out = join(dir, `run-${name}`);
  const run = await simulateRecorded(scenario, {
    dt_s: scenario.dt_s,
    every_s: 1,
    out,
    open: () =>
      openScenarioRun('simulate', dir, {
        scenario,
        file,
        dt_s: scenario.dt_s,
        devices: [],
        loop: { devices: [], runner: 'simulate' },
      }),
    onStep: (s: TwinState) =>
      states.set(Math.round(s.t_s * 1000), Object.fromEntries(ids.map((id) => [id, s.devices[id]!.p_mw]))),
  });
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')) as { start_ns: string };
  return { run, out, states, start_ns: BigInt(manifest.start_ns) };
}

describe('VPP telemetry in gridloop simulate', { timeout: budget(120_000) }, () => {
  it('records a vpp point per decision and a vpp_member point per member; target and delivered agree with the twin', async () => {
    const { run, out, states, start_ns } = await simulateText(
      'telemetry',
      `name: vpp-telemetry
grid: ${GRID}
seed: 3
dt_s: 0.1
duration_s: 60
startHour: 12
vpp:
  portfolio: ${MG1}
  structure: central
  period_s: 10
  target: { profile_mw: [0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.9, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8] }
`,
    );
    expect(run.verdict.passed).toBe(true);
    const points = await readRunPoints(out);
    const vpp = points.filter((p) => p.measurement === 'vpp');
    const members = points.filter((p) => p.measurement === 'vpp_member');
    // Decisions every 10 s of a 60 s run.
    expect(vpp.length).toBeGreaterThanOrEqual(5);
    expect(vpp.length).toBeLessThanOrEqual(7);
    expect(members.length).toBe(vpp.length * MEMBERS.length);
    let checked = 0;
    for (const p of vpp) {
      const at_ms = Math.round(Number(p.time_ns - start_ns) / 1e6);
      expect(p.tags.vpp).toBe('mg1');
      // The scenario's target at 12:xx.
      expect(p.fields.target_mw).toBe(0.9);
      expect(p.fields.ok).toBe(true);
      // Delivered: the members' outputs in the twin's state the decision was made on.
      const state = states.get(at_ms);
      if (!state) continue;
      checked++;
      const sum = MEMBERS.reduce((s, id) => s + state[id]!, 0);
      expect(p.fields.delivered_mw as number).toBeCloseTo(sum, 9);
      for (const id of MEMBERS) {
        const m = members.find((x) => x.time_ns === p.time_ns && x.tags.member === id)!;
        expect(m.fields.measured_mw as number).toBeCloseTo(state[id]!, 9);
      }
    }
    expect(checked).toBeGreaterThanOrEqual(5);
    // The set-points add up to the target, and the twin follows them: at the last decision, what
    // the members deliver is the target within 1 %.
    const last = vpp.at(-1)!;
    const setpoints = members
      .filter((m) => m.time_ns === last.time_ns)
      .reduce((s, m) => s + (m.fields.setpoint_mw as number), 0);
    expect(setpoints).toBeCloseTo(0.9, 6);
    expect(Math.abs((last.fields.delivered_mw as number) - 0.9)).toBeLessThan(0.009);
  });
});

/**
 * Bi-level case, solved by hand. Three operators: `gas` (chp-4: a = 40, b = 80, 0.3–0.6 MW),
 * `green` (pv-24: a = 2, b = 0, forecast 0.8 × 0.4 = 0.32 MW) and `consumers` (load-24, demand
 * response a_d = 200, b_d = 200, up to 0.4 MW, a price-taker). Green is at its forecast limit at any
 * markup in [1, 3] (λ/k ≥ 80 gives 20 MW ≫ 0.32): its profit is flat, it keeps k = 1 and is
 * allocated 0.32 MW. Gas is then a monopolist over the residual C' = C − 0.32 against the load's
 * response x(λ) = (λ − 200)/400: it picks λ (through its markup) to maximise λq − 40q² − 80q with
 * q = C' − x(λ). The first-order condition λ − (80 + 80q) = 400q gives λ = 80 + 480q, and with
 * C' = q + x: q = (C' + 0.3)/2.2 (interior: 0.3 < q < 0.6, 0 < x < 0.4; concave in λ, and better
 * than the corner where the CHP sits at its minimum — 65.7 against 62.4, 51.1 against 50.4).
 */
const GREEN = 0.8 * 0.4;
function handSolved(commitment_mw: number) {
  const residual = commitment_mw - GREEN;
  const q = (residual + 0.3) / 2.2;
  const lambda = 80 + 480 * q;
  return { q, lambda, x: (lambda - 200) / 400, markup: lambda / (80 + 80 * q) };
}
/** 12:45–13:00 commits 0.87 MW, 13:00–13:15 0.77 MW (the target profile's hours 12 and 13). */
const INTERVALS = [handSolved(0.87), handSolved(0.77)];
const PENALTY = 300;

const BILEVEL = `name: vpp-bilevel
grid: ${GRID}
seed: 3
dt_s: 0.1
duration_s: 1800
startHour: 12.75
events:
  # A cloud over the PV in the second interval: green cannot deliver its allocation.
  - { at: 1200, action: irradiance, unit: pv-24, scale: 0.4 }
vpp:
  portfolio:
    format: gridloop-vpp/1
    vpps:
      - id: bl
        structure: central
        period_s: 1
        operators: [gas, green, consumers]
        members:
          - { der: chp-4, operator: gas, cost: { a_per_mw2h: 40, b_per_mwh: 80 }, ramp_mw_per_min: 6 }
          - { der: pv-24, operator: green, pmax_mw: 0.4, cost: { a_per_mw2h: 2, b_per_mwh: 0 }, availability: [0, 0, 0, 0, 0, 0, 0.1, 0.3, 0.5, 0.7, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.6, 0.4, 0.2, 0, 0, 0, 0, 0] }
          - { load: load-24, operator: consumers, load_mw: 0.42, pmax_mw: 0.4, cost: { a_per_mw2h: 200, b_per_mwh: 200 } }
  target: { profile_mw: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0.87, 0.77, 0.77, 0, 0, 0, 0, 0, 0, 0, 0, 0] }
  scheduling: bilevel
  bilevel: { penalty_per_mwh: ${PENALTY}, beta: 10, interval_s: 900 }
`;

describe('bi-level scheduling in gridloop simulate', { timeout: budget(180_000) }, () => {
  let run: Awaited<ReturnType<typeof simulateText>>;
  let points: Awaited<ReturnType<typeof readRunPoints>>;
  const at_s = (time_ns: bigint) => Number(time_ns - run.start_ns) / 1e9;
  const intervalAt = (t_s: number) => INTERVALS[Math.min(1, Math.floor(t_s / 900 + 1e-9))]!;
  /** Day-ahead allocation per operator by hand. */
  const allocation = (operator: string, t_s: number) => (operator === 'gas' ? intervalAt(t_s).q : GREEN);
  const unitOf: Record<string, string> = { gas: 'chp-4', green: 'pv-24' };

  beforeAll(async () => {
    run = await simulateText('bilevel', BILEVEL, ['chp-4', 'pv-24']);
    points = await readRunPoints(run.out);
  }, budget(180_000));

  it('(a) the internal price is the hand-solved equilibrium, and the load curtails by the closed form at it', () => {
    const vpp = points.filter((p) => p.measurement === 'vpp');
    const load = points.filter((p) => p.measurement === 'vpp_member' && p.tags.member === 'load-24');
    const operators = points.filter((p) => p.measurement === 'vpp_operator');
    expect(vpp.length).toBeGreaterThan(1700);
    expect(load.length).toBe(vpp.length);
    const seen = new Set<number>();
    for (const [k, p] of vpp.entries()) {
      const t = at_s(p.time_ns);
      const hand = intervalAt(t);
      seen.add(hand.lambda);
      const price = p.fields.price_per_mwh as number;
      expect(Math.abs(price - hand.lambda) / hand.lambda).toBeLessThan(1e-5);
      // x = clamp((λ − b)/2a, 0, max) at the recorded internal price, and at the hand price.
      const x = load[k]!.fields.setpoint_mw as number;
      expect(load[k]!.time_ns).toBe(p.time_ns);
      expect(x).toBeCloseTo(Math.min(Math.max((price - 200) / 400, 0), 0.4), 9);
      expect(x).toBeCloseTo(hand.x, 5);
    }
    // Both intervals were played, at two different prices and curtailments (243.6 and 265.5 /MWh).
    expect(seen.size).toBe(2);
    for (const o of operators) {
      const hand = intervalAt(at_s(o.time_ns));
      if (o.tags.operator === 'gas') expect(o.fields.markup as number).toBeCloseTo(hand.markup, 4);
      if (o.tags.operator === 'green') expect(o.fields.markup).toBe(1);
      if (o.tags.operator === 'consumers') expect(o.fields.dr_mw as number).toBeCloseTo(hand.x, 5);
    }
  });

  it('(b) each operator pays the penalty rate times the energy it left undelivered, metered from the twin by the test', () => {
    const operators = points.filter((p) => p.measurement === 'vpp_operator');
    const decisions = [...new Set(points.filter((p) => p.measurement === 'vpp').map((p) => at_s(p.time_ns)))];
    const states = [...run.states.entries()].sort((a, b) => a[0] - b[0]);
    const stateAt = (t_s: number) => run.states.get(Math.round(t_s * 1000));
    for (const operator of ['gas', 'green']) {
      const unit = unitOf[operator]!;
      // As the VPP meters: each decision's state held over the period just ended.
      let sampled = 0;
      for (let n = 1; n < decisions.length; n++) {
        const state = stateAt(decisions[n]!);
        expect(state, `state at ${decisions[n]} s`).toBeDefined();
        const missing = Math.max(0, allocation(operator, decisions[n - 1]!) - state![unit]!);
        sampled += (missing * (decisions[n]! - decisions[n - 1]!)) / 3600;
      }
      // Every step of the twin over the same span.
      let stepped = 0;
      for (let i = 1; i < states.length; i++) {
        const [t1, s1] = states[i]!;
        const t0 = states[i - 1]![0];
        if (t0 / 1000 < decisions[0]! - 1e-9 || t1 / 1000 > decisions.at(-1)! + 1e-9) continue;
        stepped += (Math.max(0, allocation(operator, t0 / 1000) - s1[unit]!) * (t1 - t0)) / 3.6e6;
      }
      const last = operators.filter((p) => p.tags.operator === operator).at(-1)!;
      const reported = last.fields.penalty as number;
      // The hand allocations agree with the VPP's to ~1e-6 MW: 1e-6 MWh over the half hour.
      expect(Math.abs((last.fields.undelivered_mwh as number) - sampled)).toBeLessThan(1e-6);
      expect(Math.abs(reported - PENALTY * sampled)).toBeLessThan(PENALTY * 1e-6);
      // The decision-period metering is the twin's step-by-step energy within 1 %.
      if (stepped > 1e-3) expect(Math.abs(sampled - stepped) / stepped).toBeLessThan(0.01);
      else expect(Math.abs(sampled - stepped)).toBeLessThan(1e-4);
    }
    // Green left ~0.03 MWh undelivered under the cloud (a penalty of ~9); gas delivered its allocation.
    const penalty = (o: string) =>
      operators.filter((p) => p.tags.operator === o).at(-1)!.fields.penalty as number;
    expect(penalty('green')).toBeGreaterThan(5);
    expect(penalty('gas')).toBeLessThan(0.05 * penalty('green'));
  });

  it('gridloop replay attaches the bi-level VPP again: the same run, bit for bit', async () => {
    const replay = await replayRun(run.out);
    expect(replay.divergence).toBeUndefined();
    expect(replay.identical).toBe(true);
  });

  it("(c) the delivered schedule follows the day-ahead schedule: each unit within 0.001 MW after a minute, each operator's energy within 0.5 %", () => {
    const chp = points.filter((p) => p.measurement === 'vpp_member' && p.tags.member === 'chp-4');
    // The real-time set-points are the day-ahead points (the units can follow them).
    for (const p of chp) expect(p.fields.setpoint_mw as number).toBeCloseTo(intervalAt(at_s(p.time_ns)).q, 5);
    for (const [k, start] of [0, 900].entries()) {
      // The PV's interval 2 is under the cloud (what (b) penalises): green is judged in interval 1 only.
      for (const operator of k === 0 ? ['gas', 'green'] : ['gas']) {
        const unit = unitOf[operator]!;
        let energy = 0;
        let worst = 0;
        for (const [ms, s] of run.states) {
          const t = ms / 1000;
          if (t <= start || t > start + 900) continue;
          energy += (s[unit]! * 0.1) / 3600;
          if (t > start + 60) worst = Math.max(worst, Math.abs(s[unit]! - allocation(operator, start)));
        }
        const scheduled = (allocation(operator, start) * 900) / 3600;
        expect(Math.abs(energy - scheduled) / scheduled, `${operator} in interval ${k + 1}`).toBeLessThan(
          0.005,
        );
        expect(worst, `${operator} in interval ${k + 1}`).toBeLessThan(0.001);
      }
    }
  });
});

describe("gridloop simulate reports each operator's settlement", { timeout: budget(120_000) }, () => {
  it('the JSON summary holds what the last vpp_operator points of the run folder say', async () => {
    const file = join(dir, 'bilevel-cli.yaml');
    writeFileSync(file, BILEVEL.replace('duration_s: 1800', 'duration_s: 60').replace('at: 1200', 'at: 30'));
    const out: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
    const runDir = join(dir, 'run-bilevel-cli');
    const code = await main(['simulate', file, '--out', runDir, '--json']);
    log.mockRestore();
    expect(code).toBe(0);
    const summary = JSON.parse(out.at(-1)!) as { vpp: { operators: Record<string, number | string>[] } };
    const points = (await readRunPoints(runDir)).filter((p) => p.measurement === 'vpp_operator');
    expect(summary.vpp.operators.map((o) => o.operator)).toEqual(['gas', 'green', 'consumers']);
    for (const o of summary.vpp.operators) {
      const last = points.filter((p) => p.tags.operator === o.operator).at(-1)!;
      expect(o.penalty).toBe(last.fields.penalty);
      expect(o.undelivered_mwh).toBe(last.fields.undelivered_mwh);
    }
    // The cloud from 30 s: green short of its 0.32 MW, gas not.
    const green = summary.vpp.operators[1]!;
    expect(green.penalty as number).toBeGreaterThan(0.2);
    expect(green.penalty).toBeCloseTo(PENALTY * (green.undelivered_mwh as number), 9);
  });
});

describe('bi-level settings that cannot be used are refused with the file and line', () => {
  const section = (vpp: string) => `name: bad-bilevel
grid: ${GRID}
duration_s: 10
dt_s: 0.1
vpp:
  portfolio: ${MG1}
  target: { mw: 0.9 }
${vpp}
`;
  it.each([
    ['  scheduling: bilevel\n  structure: central', 8, /needs 'bilevel: \{ penalty_per_mwh \}'/],
    [
      '  scheduling: bilevel\n  bilevel: { penalty_per_mwh: 100 }',
      8,
      /set 'structure: central' \(it is consensus\)/,
    ],
    [
      '  structure: central\n  period_s: 7\n  scheduling: bilevel\n  bilevel: { penalty_per_mwh: 100, interval_s: 900 }',
      11,
      /interval_s 900 must be a whole multiple of the re-dispatch period \(7 s\)/,
    ],
    [
      '  structure: central\n  bilevel: { penalty_per_mwh: 100 }',
      9,
      /'bilevel' settings need 'scheduling: bilevel'/,
    ],
  ])('%s', async (vpp, line, message) => {
    const file = join(dir, `bad-${line}-${vpp.length}.yaml`);
    writeFileSync(file, section(vpp));
    const error = await scenarioVppRun(await loadScenario(file)).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error).toBeInstanceOf(ScenarioError);
    expect(error!.message).toMatch(message);
    expect(error!.message).toContain(`${file}:${line} `);
  });
});

/** scenarios/vpp-market.yaml cut to 15 min of 5-min intervals on a coarse step, without its chain. */
function shortVppMarket(): string {
  return readFileSync(join(root, 'scenarios/vpp-market.yaml'), 'utf8')
    .replace('grid: ../grids/demo-33bw-microgrids.yaml', `grid: ${GRID}`)
    .replace('portfolio: ../vpp/portfolios/mg1.yaml', `portfolio: ${MG1}`)
    .replace(/^dt_s: 0\.1$/m, 'dt_s: 0.5')
    .replace(/^duration_s: 7200$/m, 'duration_s: 900')
    .replace(/^ {2}interval_s: 900$/m, '  interval_s: 300\n  settlement: { enabled: false }');
}

describe('gridloop replay of a run with the VPP in the P2P market', { timeout: budget(180_000) }, () => {
  it('attaches the market and the VPP bidding in it again: the same run, bit for bit, and says the chain is left to ledger verify', async () => {
    const file = join(dir, 'vpp-market-short.yaml');
    writeFileSync(file, shortVppMarket());
    const out = join(dir, 'run-vpp-market');
    const logs: string[] = [];
    const log = vi.spyOn(console, 'log').mockImplementation((...a) => void logs.push(a.join(' ')));
    try {
      // The recorded run: the market cleared intervals at 300 s and 600 s with the VPP in them.
      await main(['simulate', file, '--out', out, '--json']);
      const summary = JSON.parse(logs.find((l) => l.startsWith('{'))!) as {
        market: { vpp: { id: string; intervals: { award_wh: number }[] } };
      };
      expect(summary.market.vpp.id).toBe('mg1');
      expect(summary.market.vpp.intervals.some((d) => d.award_wh > 0)).toBe(true);
      logs.length = 0;
      const code = await main(['replay', out, '--every', '1000']);
      expect(logs.join('\n')).toMatch(/bit-identical: yes/);
      expect(code).toBe(0);
      expect(logs.join('\n')).toMatch(
        /market: attached again \(3 intervals cleared again, VPP 'mg1' bidding as one participant\); its settlement is not re-run: gridloop ledger verify .* re-executes/,
      );
    } finally {
      log.mockRestore();
    }
  });
});

describe('the VPP in the P2P market in an attack run (gridloop attack, campaigns)', {
  timeout: budget(180_000),
}, () => {
  it('records market_vpp points whose award is the clearing’s and whose delivery is the members’ measured energy, within 2 %; the run replays bit for bit', async () => {
    const file = join(dir, 'vpp-market-attack.yaml');
    // A false-data injection on MG2's state estimation while the market runs.
    writeFileSync(
      file,
      `${shortVppMarket()}security:
  estimation: { island: MG2, every_steps: 10, alpha: 0.05, persistence: { k: 3, n: 5 } }
  attacks:
    - { id: bias-v14, kind: bias, target: se.vm_pu.14, start_s: 400, stop_s: 500, bias: 0.04 }
`,
    );
    const scenario = await loadSecurityScenario(file);
    const market = (await marketRunOf(scenario, scenario.dt_s))!;
    // The test's own account of the members' energy per 5-min interval, from the published states.
    const delivered = new Map<number, number>();
    let last = 0;
    const out = join(dir, 'run-vpp-market-attack');
    // As gridloop attack and campaign workers call it (bench/cli/commands/attack.ts, bench/campaigns/execute.ts).
    const run = await attackRecorded(scenario, {
      ...market.options,
      every_s: 60,
      out,
      onStep: (state) => {
        market.options.onStep(state);
        const dt = state.t_s - last;
        last = state.t_s;
        const k = Math.floor((state.t_s - dt / 2) / 300) * 300;
        let p = 0;
        for (const id of MEMBERS) {
          const d = state.devices[id]!;
          if (d.online && !d.tripped) p += d.p_mw;
        }
        delivered.set(k, (delivered.get(k) ?? 0) + (p * 1e6 * dt) / 3600);
      },
      open: () =>
        openScenarioRun('attack', dir, {
          scenario,
          file,
          dt_s: scenario.dt_s,
          devices: [],
          loop: { devices: [], runner: 'attack' },
        }),
    });
    expect(run.result.metrics.attacks[0]!.id).toBe('bias-v14');
    const points = await readRunPoints(out);
    const vpp = points.filter((p) => p.measurement === 'market_vpp');
    expect(vpp).toHaveLength(2);
    // The award from the run's own trades of participant mg1 (sold − bought), per interval.
    const trades = points.filter((p) => p.measurement === 'market_trade' && p.tags.participant === 'mg1');
    const start_ns = BigInt(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).start_ns);
    const at_s = (t: bigint) => Math.round(Number(t - start_ns) / 1e9);
    for (const p of vpp) {
      const start = at_s(p.time_ns) - 300;
      const award = trades
        .filter((t) => at_s(t.time_ns) === start)
        .reduce((x, t) => x + (t.tags.side === 'sell' ? 1 : -1) * (t.fields.filled_wh as number), 0);
      expect(award, `interval ${start}`).toBeGreaterThan(0.5e6 * (300 / 3600));
      expect(p.fields.award_wh).toBe(award);
      expect(p.fields.delivered_wh as number).toBeCloseTo(delivered.get(start)!, 3);
      expect(Math.abs(delivered.get(start)! - award), `interval ${start}`).toBeLessThanOrEqual(0.02 * award);
    }
    const replay = await replayRun(out);
    expect(replay.divergence).toBeUndefined();
    expect(replay.identical).toBe(true);
    expect(replay.market).toEqual({ intervals: 3, vpp: 'mg1', ledger: 'not replayed' });
  });
});

describe('the VPP in the P2P market in a campaign run', { timeout: budget(180_000) }, () => {
  it('ships its portfolio beside the run and records market_vpp points: award = its trades, delivery within 2 %', async () => {
    const work = join(dir, 'campaign');
    // The portfolio relative to the scenario, as a shipped scenario names it: the campaign ships it beside the run.
    writeFileSync(
      join(dir, 'vpp-market-campaign.yaml'),
      shortVppMarket().replace(`portfolio: ${MG1}`, `portfolio: ${relative(dir, MG1)}`),
    );
    const file = join(dir, 'campaign.yaml');
    writeFileSync(
      file,
      'name: vpp-market-once\nscenarios: [vpp-market-campaign.yaml]\ncollect: [voltage-min]\n',
    );
    const campaign = await loadCampaign(file);
    expect(campaign.runs).toHaveLength(1);
    const result = await executeRun(campaign.runs[0]!, work, campaign.columns);
    expect(result.status, result.verdict).toBe('passed');
    const points = await readRunPoints(join(work, result.runDir!));
    const vpp = points.filter((p) => p.measurement === 'market_vpp');
    expect(vpp).toHaveLength(2);
    for (const p of vpp) {
      // Stamped at the interval's start (the recorder moves points of one series apart by a nanosecond).
      const start_ns = p.time_ns - 300_000_000_000n;
      const trades = points.filter(
        (t) =>
          t.measurement === 'market_trade' &&
          t.tags.participant === 'mg1' &&
          t.time_ns >= start_ns &&
          t.time_ns < start_ns + 1_000_000n,
      );
      const award = trades.reduce(
        (x, t) => x + (t.tags.side === 'sell' ? 1 : -1) * (t.fields.filled_wh as number),
        0,
      );
      expect(award).toBeGreaterThan(0.5e6 * (300 / 3600));
      expect(p.fields.award_wh).toBe(award);
      expect(Math.abs((p.fields.delivered_wh as number) - award)).toBeLessThanOrEqual(0.02 * award);
    }
  });
});
