/**
 * A scenario's `vpp:` section and the `vpp-*` assertions, end to end: `gridloop simulate` attaches
 * the VPP to the twin through the controller contract and judges the assertions (passing ones and
 * ones that must fail, with their reason), replays bit for bit, and refuses bad sections with the
 * file and line. The attack engine drives the VPP's communication network (`comms:vpp:<id>`):
 * message loss, failed links, delay and a lying agent, in the shipped attack scenarios and here.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { main } from '../bench/cli/main.ts';
import { simulateRecorded } from '../bench/recording/simulate-run.ts';
import { replayRun } from '../bench/replay/replay-run.ts';
import { scenarioVppRun } from '../bench/vpp/scenario.ts';
import {
  loadSecurityScenario,
  runSecurityScenario,
  type SecurityScenario,
} from '../twin/attacks/security.ts';
import { loadScenario, ScenarioError } from '../twin/scenario/load.ts';
import type { VppStatus } from '../vpp/controller.ts';
import { budget } from './support/machine-speed.ts';

const root = join(import.meta.dirname, '..');
const GRID = join(root, 'grids/demo-33bw-microgrids.yaml');
const MG1 = join(root, 'vpp/portfolios/mg1.yaml');

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'gridloop-vpp-scenario-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let n = 0;
function write(text: string): string {
  const file = join(dir, `s${n++}.yaml`);
  writeFileSync(file, text);
  return file;
}

/** A short run of MG1's VPP; `vpp` and `assertions` are YAML lines spliced in. */
function scenario(vpp: string, assertions: string, extra = ''): string {
  return `name: vpp-test
grid: ${GRID}
seed: 3
dt_s: 0.1
duration_s: 120
startHour: 12
vpp:
${vpp}
${extra}assertions:
${assertions}
`;
}

async function simulate(file: string) {
  const s = await loadScenario(file);
  return (await simulateRecorded(s, { dt_s: s.dt_s, every_s: 1 })).result;
}

const failuresOf = (r: { assertions: { passed: boolean; name: string; detail: string }[] }) =>
  r.assertions.filter((a) => !a.passed).map((a) => `${a.name}: ${a.detail}`);

describe('vpp: scenario section and assertions (gridloop simulate)', { timeout: budget(120_000) }, () => {
  afterEach(() => vi.restoreAllMocks());

  it('gridloop simulate attaches the VPP through the contract: assertions pass, and the run replays bit for bit', async () => {
    const file = write(
      scenario(
        `  portfolio: ${MG1}
  structure: consensus
  target: { mw: 0.9 }
  comms: { loss: 0.2, gain: median }`,
        `  - { type: vpp-tracks-target, within_pct: 2, after: 20 }
  - { type: vpp-converges, max_iterations: 500, min_loss: 0.2 }`,
      ),
    );
    const out: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
    const runDir = join(dir, 'run-sim');
    const code = await main(['simulate', file, '--out', runDir, '--json']);
    const summary = JSON.parse(out.at(-1)!);
    expect(failuresOf(summary)).toEqual([]);
    expect(code).toBe(0);
    expect(summary.assertions.map((a: { type: string }) => a.type)).toEqual([
      'vpp-tracks-target',
      'vpp-converges',
    ]);
    // 12 re-dispatches (every 10 s), each converged at 20 % loss.
    expect(summary.assertions[1].detail).toMatch(
      /^12 re-dispatches at ≥ 20 % message loss: at most \d+ rounds/,
    );
    // gridloop replay attaches the VPP again: the same decisions, the same state hashes.
    const replay = await replayRun(runDir);
    expect(replay.divergence).toBeUndefined();
    expect(replay.identical).toBe(true);
    expect(replay.checkpoints).toBeGreaterThan(0);
  });

  it('is deterministic: the same scenario twice gives the same figures', async () => {
    const file = write(
      scenario(
        `  portfolio: ${MG1}
  structure: admm
  target: { profile_mw: [0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.7, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8] }
  comms: { loss: 0.2 }`,
        `  - { type: vpp-tracks-target, within_pct: 2, after: 20 }
  - { type: vpp-converges, max_iterations: 500 }`,
      ),
    );
    const a = await simulate(file);
    const b = await simulate(file);
    expect(failuresOf(a)).toEqual([]);
    expect(b.assertions).toEqual(a.assertions);
  });

  it('an impossible target fails vpp-tracks-target with the reason (outside the available range)', async () => {
    const file = write(
      scenario(
        `  portfolio: ${MG1}
  structure: central
  target: { mw: 50 }`,
        '  - { type: vpp-tracks-target, within_pct: 2 }',
      ),
    );
    const r = await simulate(file);
    expect(r.passed).toBe(false);
    const [a] = r.assertions;
    expect(a!.passed).toBe(false);
    expect(a!.detail).toMatch(
      /delivered .* MWh against a target of 1\.66\d MWh \(-9\d\.\d\d %, limit ±2 %\); 12 of 12 re-dispatches failed \(last: target 50 MW is outside the available range/,
    );
  });

  it('vpp-converges fails when the rounds exceed the limit, naming the first; vpp-byzantine without a liar checked nothing', async () => {
    const file = write(
      scenario(
        `  portfolio: ${MG1}
  structure: consensus
  target: { mw: 0.9 }
  comms: { loss: 0.2 }`,
        `  - { type: vpp-converges, max_iterations: 5 }
  - { type: vpp-byzantine, max_cost_change_pct: 1 }`,
      ),
    );
    const r = await simulate(file);
    const [conv, byz] = r.assertions;
    expect(conv!.passed).toBe(false);
    expect(conv!.detail).toMatch(
      /^12 re-dispatches: at most \d+ rounds \(limit 5\); 0 did not converge, 12 over the limit \(first at 0\.1 s\)/,
    );
    expect(byz!.passed).toBe(false);
    expect(byz!.detail).toMatch(/checked nothing: no agent lied/);
  });

  describe('bad sections: file, line and path', () => {
    const expectError = async (text: string, pattern: RegExp) => {
      const file = write(text);
      const run = async () => {
        const s = await loadScenario(file);
        await scenarioVppRun(s);
      };
      const err = await run().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(ScenarioError);
      expect((err as Error).message).toMatch(pattern);
      expect((err as Error).message.startsWith(file) || (err as Error).message.includes('.yaml:')).toBe(true);
    };

    it('schema: a loss of 2, a target with two sources, an unknown field', async () => {
      await expectError(
        scenario(
          `  portfolio: ${MG1}\n  target: { mw: 1 }\n  comms: { loss: 2 }`,
          '  - { type: vpp-tracks-target, within_pct: 2 }',
        ),
        /s\d+\.yaml:10 \(at \/vpp\/comms\/loss\): must be <= 1/,
      );
      await expectError(
        scenario(
          `  portfolio: ${MG1}\n  target: { mw: 1, prices: p.csv }`,
          '  - { type: vpp-tracks-target, within_pct: 2 }',
        ),
        /s\d+\.yaml:9 \(at \/vpp\/target\): must NOT have more than 1 properties/,
      );
      await expectError(
        scenario(
          `  portfolio: ${MG1}\n  target: { mw: 1 }\n  structur: admm`,
          '  - { type: vpp-tracks-target, within_pct: 2 }',
        ),
        /s\d+\.yaml:10 \(at \/vpp\/structur\): unknown property 'structur'/,
      );
    });

    it('an inline portfolio with an unknown DER names the scenario line of the member', async () => {
      await expectError(
        scenario(
          `  portfolio:
    format: gridloop-vpp/1
    vpps:
      - id: v
        members:
          - { der: chp-4 }
          - { der: nope-99 }
  target: { mw: 0.3 }`,
          '  - { type: vpp-tracks-target, within_pct: 2 }',
        ),
        /s\d+\.yaml:14 \(at \/vpp\/portfolio\): vpp: member 'nope-99': unknown DER/,
      );
    });

    it('a vpp-* assertion without a vpp: section, a central VPP asked to converge, an unknown vpp id, a missing price file', async () => {
      const noVpp = `name: x\ngrid: ${GRID}\nduration_s: 5\nassertions:\n  - { type: vpp-tracks-target, within_pct: 2 }\n`;
      const file = write(noVpp);
      await expect(loadScenario(file)).rejects.toThrow(
        /s\d+\.yaml:5 \(at \/assertions\/0\/type\): assertion 'vpp-tracks-target' needs the scenario's vpp: section/,
      );
      await expectError(
        scenario(
          `  portfolio: ${MG1}\n  structure: central\n  target: { mw: 1 }`,
          '  - { type: vpp-converges, max_iterations: 10 }',
        ),
        /s\d+\.yaml:12 \(at \/assertions\/0\/type\): 'vpp-converges' needs a distributed structure/,
      );
      await expectError(
        scenario(
          `  portfolio: ${MG1}\n  id: other\n  target: { mw: 1 }`,
          '  - { type: vpp-tracks-target, within_pct: 2 }',
        ),
        /s\d+\.yaml:9 \(at \/vpp\/id\): no vpp 'other' in the portfolio \(it has mg1\)/,
      );
      await expectError(
        scenario(
          `  portfolio: ${MG1}\n  target: { prices: missing.csv }`,
          '  - { type: vpp-tracks-target, within_pct: 2 }',
        ),
        /s\d+\.yaml:9 \(at \/vpp\/target\/prices\): .*missing\.csv: cannot read/,
      );
    });
  });
});

/** A security run with the scenario's VPP attached, recording its status after every decision. */
async function attackRun(s: SecurityScenario) {
  const vpp = (await scenarioVppRun(s))!;
  const statuses: VppStatus[] = [];
  let seen = 0;
  const r = await runSecurityScenario(s, {
    controllers: vpp.controllers,
    assertions: vpp.assertions,
    onStep: () => {
      const st = vpp.vpp.controller.status;
      if (st.decisions !== seen) {
        seen = st.decisions;
        statuses.push(structuredClone(st));
      }
    },
  });
  return { r, statuses, vpp };
}

const attackFailures = (r: Awaited<ReturnType<typeof runSecurityScenario>>) =>
  [...r.assertions, ...r.expectations].filter((o) => !o.passed).map((o) => `${o.name}: ${o.detail}`);

describe('attacks on the VPP communication network (attack engine, comms:vpp:<id>)', {
  timeout: budget(180_000),
}, () => {
  it('a lying agent under W-MSR: detected and isolated, cost within 1 % of the honest optimum, target met', async () => {
    const s = await loadSecurityScenario(join(root, 'scenarios/attacks/vpp-byzantine-agent.yaml'));
    const { r, statuses } = await attackRun(s);
    expect(attackFailures(r)).toEqual([]);
    const lying = statuses.filter((x) => x.comms?.liar === 'bess-25');
    expect(lying[0]!.t_s).toBeGreaterThanOrEqual(120);
    expect(lying.every((x) => x.comms!.attacks.includes('liar'))).toBe(true);
    // Isolated from its first lying re-dispatch on; the honest agents' dispatch costs what the
    // central optimum of the same interval costs.
    expect(lying.every((x) => x.isolated.includes('bess-25'))).toBe(true);
    for (const x of lying) expect(Math.abs(x.cost - x.reference_cost) / x.reference_cost).toBeLessThan(0.01);
    // Ground truth of the attack is labelled like any other.
    expect(r.metrics.attacks.map((a) => a.id)).toEqual(['liar']);
  });

  it('gridloop attack runs it with the VPP attached, records it, and gridloop replay re-attaches the VPP', async () => {
    const out: string[] = [];
    const spy = vi.spyOn(console, 'log').mockImplementation((...a) => void out.push(a.join(' ')));
    const runDir = join(dir, 'run-attack');
    const code = await main([
      'attack',
      join(root, 'scenarios/attacks/vpp-byzantine-agent.yaml'),
      '--out',
      runDir,
      '--json',
    ]);
    spy.mockRestore();
    const summary = JSON.parse(out.at(-1)!);
    expect(code).toBe(0);
    expect(summary.passed).toBe(true);
    const byz = summary.outcomes.find((o: { name: string }) => o.name.startsWith('the lie'));
    expect(byz.message).toMatch(/detected and isolated by W-MSR \(first at 120\.1 s\)/);
    const replay = await replayRun(runDir);
    expect(replay.identical).toBe(true);
  });

  it('the same lie without W-MSR: no consensus, the last dispatch is kept, vpp-byzantine fails with the reason', async () => {
    const s = await loadSecurityScenario(join(root, 'scenarios/attacks/vpp-byzantine-agent.yaml'));
    (s.vpp!.comms as Record<string, unknown>).resilient = false;
    const { r, statuses } = await attackRun(s);
    const byz = r.assertions.find((a) => a.type === 'vpp-byzantine')!;
    expect(byz.passed).toBe(false);
    expect(byz.detail).toMatch(
      /'bess-25' lied in \d+ re-dispatches: cost [-+]\d+\.\d+ % .*; not isolated; \d+ re-dispatches did not converge \(last dispatch kept\)/,
    );
    const lying = statuses.filter((x) => x.comms?.liar);
    expect(lying.every((x) => !x.ok && /consensus did not converge/.test(x.reason!))).toBe(true);
    // Never a NaN or unbounded set-point while it fails.
    for (const x of lying) for (const p of Object.values(x.dispatch)) expect(Number.isFinite(p)).toBe(true);
  });

  it('loss burst, failed link, delay: the VPP sees each in its window and copes (shipped vpp-comms-faults)', async () => {
    const s = await loadSecurityScenario(join(root, 'scenarios/attacks/vpp-comms-faults.yaml'));
    const { r, statuses } = await attackRun(s);
    expect(attackFailures(r)).toEqual([]);
    const at = (t: number) => statuses.find((x) => x.t_s >= t)!;
    expect(at(50).comms).toMatchObject({ loss: 0.05, failed_links: [], attacks: [] });
    expect(at(150).comms).toMatchObject({ loss: 0.4, attacks: ['loss-burst'] });
    expect(at(250).comms).toMatchObject({ failed_links: ['chp-4–fc-20'], attacks: ['link-down'] });
    expect(at(350).comms).toMatchObject({ latency_ms: 10, jitter_ms: 10, attacks: ['slow-links'] });
    expect(at(450).comms!.attacks).toEqual([]);
    // Loss and delay cost rounds: more at 40 % loss and with delay than on the quiet network.
    expect(at(150).iterations!).toBeGreaterThan(at(50).iterations!);
    expect(at(350).iterations!).toBeGreaterThan(at(50).iterations!);
  });

  it('ADMM: a member cut off from the aggregator keeps its set-point; the others cover a cloud', async () => {
    const file = write(
      scenario(
        `  portfolio: ${MG1}
  structure: admm
  target: { mw: 0.9 }`,
        '  - { type: vpp-tracks-target, within_pct: 2, after: 65 }',
        `events:
  - { at: 50, action: irradiance, unit: pv-24, scale: 0.2 }
security:
  attacks:
    - { id: cut, kind: link-failure, target: 'comms:vpp:mg1', link: [chp-4, aggregator], start_s: 40, stop_s: 100 }
`,
      ),
    );
    const { r, statuses } = await attackRun(await loadSecurityScenario(file));
    expect(attackFailures(r)).toEqual([]);
    const before = statuses.filter((x) => x.t_s < 40).at(-1)!;
    const cut = statuses.filter((x) => x.t_s >= 40 && x.t_s < 100);
    expect(cut.length).toBe(6);
    for (const x of cut) {
      expect(x.comms!.failed_links).toEqual(['chp-4–aggregator']);
      // Nothing reaches the CHP: it stays where it was last told.
      expect(x.dispatch['chp-4']).toBe(before.dispatch['chp-4']);
      expect(x.ok).toBe(true);
    }
    // The cloud took PV down; the members that can still be told made up for it.
    const late = cut.filter((x) => x.t_s >= 60);
    expect(late.every((x) => x.dispatch['pv-24']! < 0.5 * before.dispatch['pv-24']!)).toBe(true);
    // (PV's ceiling probes upwards by 5 % of its rating a period, so single periods miss by ≤ 0.025 MW.)
    const mean = late.reduce((sum, x) => sum + x.delivered_mw, 0) / late.length;
    expect(Math.abs(mean - 0.9)).toBeLessThan(0.02 * 0.9);
    // After the link is back the CHP is dispatched again.
    const after = statuses.filter((x) => x.t_s >= 100);
    expect(after.every((x) => x.comms!.failed_links.length === 0)).toBe(true);
  });

  it('ADMM: a member that reports false powers is caught by the aggregator check and isolated; cost and target hold', async () => {
    const lyingMember = (comms = '') =>
      write(
        scenario(
          `  portfolio: ${MG1}
  structure: admm
  target: { mw: 0.9 }${comms}`,
          `  - { type: vpp-byzantine, name: lie, max_cost_change_pct: 1 }
  - { type: vpp-tracks-target, within_pct: 2, after: 30 }`,
          `security:
  attacks:
    - { id: liar, kind: byzantine, target: 'comms:vpp:mg1', agent: fc-20, bias: 0.2, start_s: 60 }
`,
        ),
      );
    const { r, statuses } = await attackRun(await loadSecurityScenario(lyingMember()));
    expect(attackFailures(r)).toEqual([]);
    const lie = r.assertions.find((a) => a.type === 'vpp-byzantine')!;
    expect(lie.detail).toMatch(
      /'fc-20' lied in \d+ re-dispatches: .*detected and isolated by the aggregator's check \(first at 60\.\d s\)/,
    );
    const lying = statuses.filter((x) => x.comms?.liar === 'fc-20');
    expect(lying.length).toBeGreaterThan(0);
    for (const x of lying) {
      expect(x.isolated).toEqual(['fc-20']);
      expect(Math.abs(x.cost - x.reference_cost) / x.reference_cost).toBeLessThan(0.01);
    }
    // Without the check the aggregator balances the reports: the lie is neither caught nor harmless.
    const trusting = await loadSecurityScenario(lyingMember('\n  comms: { verify_reports: false }'));
    const unchecked = (await attackRun(trusting)).r.assertions.find((a) => a.type === 'vpp-byzantine')!;
    expect(unchecked.passed).toBe(false);
    expect(unchecked.detail).toMatch(/'fc-20' lied in \d+ re-dispatches: cost -\d+\.\d+ % .*; not isolated/);
  });

  it('bad comms attacks are refused with the reason: unknown agent, no such controller, a lying ADMM aggregator', async () => {
    const base = (vppLines: string, attack: string) =>
      write(
        scenario(
          vppLines,
          '  - { type: vpp-tracks-target, within_pct: 2 }',
          `security:\n  attacks:\n    - ${attack}\n`,
        ),
      );
    const run = async (file: string) => {
      const s = await loadSecurityScenario(file);
      const vpp = await scenarioVppRun(s);
      return runSecurityScenario(s, { controllers: vpp?.controllers, assertions: vpp?.assertions });
    };
    const consensus = `  portfolio: ${MG1}\n  structure: consensus\n  target: { mw: 0.9 }`;
    await expect(
      run(
        base(consensus, "{ kind: byzantine, target: 'comms:vpp:mg1', agent: nobody, bias: 5, start_s: 1 }"),
      ),
    ).rejects.toThrow(
      /\.yaml:\d+ \(at \/security\/attacks\/0\): disturbance byzantine@comms:vpp:mg1: unknown agent 'nobody' \(agents: chp-4, pv-24, wind-22, fc-20, bess-25\)/,
    );
    await expect(
      run(base(consensus, "{ kind: dos-drop, target: 'comms:vpp:other', start_s: 1 }")),
    ).rejects.toThrow(/no attached controller 'vpp:other' with a communication network/);
    await expect(
      run(
        base(
          `  portfolio: ${MG1}\n  structure: admm\n  target: { mw: 0.9 }`,
          "{ kind: byzantine, target: 'comms:vpp:mg1', agent: aggregator, bias: 5, start_s: 1 }",
        ),
      ),
    ).rejects.toThrow(/the aggregator is the VPP itself; a lying agent is a member/);
    await expect(
      run(base(consensus, "{ kind: bias, target: 'comms:vpp:mg1', bias: 1, start_s: 1 }")),
    ).rejects.toThrow(/attack kind 'bias' cannot target a communication network/);
  });
});
