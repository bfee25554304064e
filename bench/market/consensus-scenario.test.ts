/**
 * Consensus under attack as attacks of the twin's attack engine (scenarios/attacks/consensus-under-
 * attack.yaml): one hour of the market day, the chain settling each interval at its end during the
 * run while six ledger attacks (targets ledger.*) and a false-data ramp on the battery board's
 * frequency strike. Run once through attackRecorded, the one path of `gridloop attack` and campaign
 * workers, recorded into a run folder.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { budget } from '../../test/support/machine-speed.ts';
import { loadSecurityScenario, parseSecurityScenario } from '../../twin/attacks/security.ts';
import { ScenarioError } from '../../twin/scenario/load.ts';
import { type AttackRunResult, attackRecorded } from '../attacks/attack-run.ts';
import { executeRun } from '../campaigns/execute.ts';
import { loadCampaign } from '../campaigns/load.ts';
import { openScenarioRun } from '../cli/scenario-run.ts';
import { readRunPoints } from '../recording/index.ts';
import type { Point } from '../recording/line-protocol.ts';
import { measurementSchema } from '../recording/schema.ts';
import {
  consensusLines,
  type LedgerReport,
  ledgerAttackRunOf,
  settlementTimes,
} from './consensus-scenario.ts';

const SCENARIO = new URL('../../scenarios/attacks/consensus-under-attack.yaml', import.meta.url).pathname;

let tmp: string;
let run: AttackRunResult<LedgerReport>;
let points: Point[];
/** What the chain had settled when the run reached each interval's end (sampled during the run). */
const settledDuringRun: { t_s: number; settled: number[] }[] = [];

beforeAll(async () => {
  tmp = mkdtempSync(join(tmpdir(), 'gridloop-consensus-'));
  const scenario = await loadSecurityScenario(SCENARIO);
  let report: LedgerReport | undefined;
  let next = 1800;
  run = await attackRecorded(scenario, {
    every_s: 60,
    open: () =>
      openScenarioRun('attack', tmp, {
        scenario,
        file: SCENARIO,
        dt_s: scenario.dt_s,
        devices: [],
        loop: { devices: [{ id: 'bess-hw' }], runner: 'attack' },
      }),
    hosted: ledgerAttackRunOf,
    onHosted: (r) => {
      report = r;
    },
    onStep: (state) => {
      // The step after each interval's end: its settlement is already done, while the twin runs.
      if (state.t_s >= next + 0.05) {
        settledDuringRun.push({ t_s: state.t_s, settled: [...(report?.settled ?? [])] });
        next += 900;
      }
    },
  });
  points = await readRunPoints(run.runDir!);
}, budget(300_000));

afterAll(() => {
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

describe('consensus under attack in the attack engine (consensus-under-attack.yaml)', () => {
  it('each of the six ledger attacks is rejected by the right party for the right reason', () => {
    const r = run.hosted!;
    const by = Object.fromEntries(r.attacks.map((a) => [a.id, a]));
    expect(r.settled).toEqual([1, 2, 3]);
    for (const a of r.attacks) expect(a.detected, `${a.id}: ${a.reasons.join('; ')}`).toBe(true);
    // Clique refuses the outsider's seal on every authority.
    expect(by.outsider.rejectedBy.sort()).toEqual(['authority0', 'authority1', 'authority2']);
    for (const reason of by.outsider.reasons)
      expect(reason).toMatch(/invalid clique difficulty|invalid PoA block signature/);
    // The two honest authorities re-execute the corrupted authority's block and refuse its state root.
    expect(by['forged-root'].rejectedBy).toHaveLength(2);
    expect(by['forged-root'].rejectedBy).not.toContain(by['forged-root'].culprit);
    for (const reason of by['forged-root'].reasons) expect(reason).toMatch(/state ?root/i);
    // The conflicting vote of authority1 is outvoted by the two others.
    expect(by.conflicting.culprit).toBe('authority1');
    expect(by.conflicting.rejectedBy.sort()).toEqual(['authority0', 'authority2']);
    expect(by.conflicting.reasons[0]).toMatch(/^outvoted/);
    // The second block at one height does not extend anyone's head.
    expect(by.equivocation.rejectedBy.sort()).toEqual(['authority0', 'authority1', 'authority2']);
    for (const reason of by.equivocation.reasons) expect(reason).toMatch(/does not extend its head/);
    // pv-24 is in MG1, whose meters authority0 keeps: the forged value fails the meter's signature.
    expect(by['forged-meter'].rejectedBy).toEqual(['meters@authority0']);
    expect(by['forged-meter'].reasons[0]).toMatch(/^bad-signature/);
    // The chain went on without authority2 (blocks made final by 2 of 3), which caught up at the end.
    expect(by.offline.rejectedBy).toEqual(['chain']);
    expect(by.offline.reasons[0]).toMatch(/by 2 of 3 authorities without authority2/);
    expect(by.offline.reasons.at(-1)).toMatch(/authority2 came back .* re-executed/);
    expect(r.falseAlarms).toEqual([]);
  });

  it('measures each attack like the twin’s: ground-truth labels, detected by whom, time to detect, no false alarm', () => {
    const m = run.result.metrics;
    const by = Object.fromEntries(m.attacks.map((a) => [a.id, a]));
    // Hand calculation: a ledger attack strikes at the first settlement in its window (each
    // interval's end: 1800, 2700, 3600 s), so time to detect = that interval end − start_s.
    const expected: Record<string, [number, string[]]> = {
      outsider: [1800 - 1790, ['authority0', 'authority1', 'authority2']],
      'forged-root': [1800 - 1750, ['authority0', 'authority2']],
      conflicting: [2700 - 2600, ['authority0', 'authority2']],
      equivocation: [2700 - 2650, ['authority0', 'authority1', 'authority2']],
      'forged-meter': [3600 - 3590, ['meters@authority0']],
      offline: [3600 - 3500, ['chain']],
    };
    for (const [id, [ttd, detectors]] of Object.entries(expected)) {
      expect(by[id].kind, id).toBe(run.hosted!.attacks.find((a) => a.id === id)!.kind);
      expect(by[id].detected, id).toBe(true);
      expect(by[id].timeToDetect_s, id).toBeCloseTo(ttd, 9);
      expect(Object.keys(by[id].detectedBy).sort(), id).toEqual(detectors);
    }
    // The authorities and meter registers judged honest blocks and readings too, and refused none.
    for (const d of m.detectors.filter((x) => /authority|chain/.test(x.detector))) {
      expect(d.falseAlarms, d.detector).toBe(0);
      if (d.detector !== 'chain') expect(d.cleanEvaluations, d.detector).toBeGreaterThan(0);
    }
    // Its expectations (security.expect) are judged on these metrics, beside the ledger's own checks.
    const failed = [...run.result.assertions, ...run.result.expectations].filter((o) => !o.passed);
    expect(failed.map((o) => `${o.name}: ${o.detail}`)).toEqual([]);
    expect(run.verdict.passed).toBe(true);
  });

  it('a twin attack and ledger attacks in one run: both in the metrics, the report and the run folder', () => {
    const ramp = run.result.metrics.attacks.find((a) => a.id === 'ramp-f')!;
    expect(ramp).toMatchObject({ kind: 'ramp', target: 'bess-hw.f_hz', start_s: 600, stop_s: 606 });
    expect(Object.keys(ramp.detectedBy)).toEqual(['frequency-consistency']);
    const labelled = points.filter((p) => p.measurement === 'attack').map((p) => p.tags.attack);
    expect(labelled.sort()).toEqual(
      ['conflicting', 'equivocation', 'forged-meter', 'forged-root', 'offline', 'outsider', 'ramp-f'].sort(),
    );
    const detections = points.filter((p) => p.measurement === 'detection' && p.fields.detected === true);
    expect(
      detections.some((p) => p.tags.attack === 'ramp-f' && p.tags.detector === 'frequency-consistency'),
    ).toBe(true);
    expect(
      detections.some((p) => p.tags.attack === 'forged-meter' && p.tags.detector === 'meters@authority0'),
    ).toBe(true);
    const lines = consensusLines(run.hosted!);
    expect(lines.filter((l) => l.startsWith('  REJECTED'))).toHaveLength(6);
  });

  it('settles each interval during the run, at its end, not in a pass afterwards', () => {
    // The last interval ends with the run: its settlement is awaited after the last step.
    expect(settledDuringRun.map((s) => s.settled)).toEqual([[1], [1, 2]]);
    // The refused blocks and readings are stamped at the end of the interval they belong to.
    const refused = points.filter(
      (p) =>
        p.measurement === 'chain' && (p.tags.outcome === 'refused' || p.tags.outcome === 'reading-refused'),
    );
    // The run's t = 0, from the outsider's ground-truth label stamped at its start (1790 s).
    const label = points.find((p) => p.measurement === 'attack' && p.tags.attack === 'outsider')!;
    const t0 = label.time_ns - 1790n * 10n ** 9n;
    expect(refused.length).toBeGreaterThan(0);
    for (const p of refused) expect([1800, 2700, 3600]).toContain(Math.round(Number(p.time_ns - t0) / 1e9));
  });

  it('balances, deposits and debts on every authority equal the unattacked reference chain', () => {
    const r = run.hosted!;
    expect(r.participantsChecked).toBeGreaterThan(10);
    expect(r.balanceMismatches).toEqual([]);
    expect(Object.keys(r.balanceTotals)).toHaveLength(3);
    expect(new Set(Object.values(r.balanceTotals)).size).toBe(1);
    // Its points: chain decisions and accounts in the recorded schema.
    for (const p of points.filter((x) => ['chain', 'market_account'].includes(x.measurement))) {
      const schema = measurementSchema(p.measurement)!;
      for (const t of Object.keys(p.tags)) expect([...schema.tags, 'run']).toContain(t);
      for (const f of Object.keys(p.fields)) expect(Object.keys(schema.fields)).toContain(f);
    }
    const accounts = points.filter((p) => p.measurement === 'market_account');
    expect(accounts).toHaveLength(r.participantsChecked * r.settled.length);
    const last = accounts.slice(-r.participantsChecked);
    expect(last.reduce((s, p) => s + Number(p.fields.balance), 0)).toBe(
      Number(Object.values(r.balanceTotals)[0]),
    );
    expect(points.filter((p) => p.measurement === 'chain' && p.tags.outcome === 'balances')).toHaveLength(3);
  });
});

describe('bad ledger attacks are refused before the run, naming file and line', () => {
  const text = () => readFile(SCENARIO, 'utf8');
  /** The scenario with its attacks replaced by `attacks` (YAML flow items, one per line). */
  const withAttacks = async (attacks: string[]) =>
    (await text()).replace(
      / {2}attacks:\n(?: {4}- .*\n)+/,
      `  attacks:\n${attacks.map((a) => `    - ${a}\n`).join('')}`,
    );
  const lineOf = async (needle: string, src: string) =>
    src.split('\n').findIndex((l) => l.includes(needle)) + 1;

  it(
    'an unknown ledger target, a kind on the wrong target, a window holding no settlement',
    async () => {
      const cases: [string, RegExp][] = [
        [
          '{ id: ghost, kind: authority-offline, target: ledger.authority7, start_s: 1700 }',
          /the chain has 3 authorities/,
        ],
        [
          '{ id: who, kind: forged-meter-reading, target: ledger.meter.nobody, start_s: 1700 }',
          /no participant 'nobody'/,
        ],
        [
          '{ id: what, kind: non-authority-sealer, target: ledger.blocks, start_s: 1700 }',
          /unknown ledger target 'ledger.blocks'/,
        ],
        [
          '{ id: wrong, kind: conflicting-clearing, target: ledger.chain, start_s: 1700 }',
          /takes ledger.authority<i>/,
        ],
        [
          '{ id: early, kind: non-authority-sealer, target: ledger.chain, start_s: 100, stop_s: 900 }',
          /holds no settlement: .* at 1800, 2700, 3600 s/,
        ],
      ];
      for (const [item, why] of cases) {
        const src = await withAttacks([
          '{ id: fine, kind: non-authority-sealer, target: ledger.chain, start_s: 1700 }',
          item,
        ]);
        const s = parseSecurityScenario(src, SCENARIO);
        const err = await ledgerAttackRunOf(s).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err, item).toBeInstanceOf(ScenarioError);
        expect((err as Error).message, item).toMatch(why);
        expect((err as ScenarioError).message).toContain(`${SCENARIO}:${await lineOf(item, src)}`);
        expect((err as ScenarioError).path).toBe('/security/attacks/1');
      }
    },
    budget(60_000),
  );

  it('an attack window past the run, and ledger attacks without a market', async () => {
    const late = await withAttacks([
      '{ id: late, kind: non-authority-sealer, target: ledger.chain, start_s: 4000 }',
    ]);
    expect(() => parseSecurityScenario(late, SCENARIO)).toThrow(
      new RegExp(
        `${SCENARIO}:${await lineOf('id: late', late)} \\(at /security/attacks/0\\): attack window must start within the run`,
      ),
    );
    const noMarket = (
      await withAttacks(['{ id: x, kind: non-authority-sealer, target: ledger.chain, start_s: 1700 }'])
    ).replace(/^market:\n(?: {2}.*\n)+/m, '');
    await expect(ledgerAttackRunOf(parseSecurityScenario(noMarket, SCENARIO))).rejects.toThrow(
      new RegExp(
        `${SCENARIO}:${await lineOf('id: x', noMarket)} \\(at /security/attacks/0\\): attacks on the ledger .* need a market: section`,
      ),
    );
    // The settlement times a window is checked against: each interval's end but the first's.
    expect(settlementTimes(900, 3600)).toEqual([1800, 2700, 3600]);
  });

  it('the former security.ledger section is refused with the line and the replacement', async () => {
    const src = (await text()).replace(
      /^security:\n/m,
      'security:\n  ledger:\n    attacks:\n      - { id: conflicting, kind: conflicting-clearing, interval: 2, authority: 1 }\n',
    );
    expect(() => parseSecurityScenario(src, SCENARIO)).toThrow(
      new RegExp(
        `${SCENARIO}:${src.split('\n').indexOf('  ledger:') + 1} \\(at /security/ledger\\): security.ledger is no longer read: .* target: ledger.authority1`,
      ),
    );
  });
});

describe('campaigns run consensus scenarios (the campaign worker’s path)', () => {
  it(
    'a ledger attack in a campaign run: its time to detect by an authority is a figure of the run',
    async () => {
      const campaign = await loadCampaign(
        new URL('../../test/fixtures/campaigns/consensus-ttd.yaml', import.meta.url).pathname,
      );
      expect(campaign.runs).toHaveLength(1);
      const r = await executeRun(campaign.runs[0], tmp, campaign.figureColumns);
      expect(r.status, r.verdict).toBe('passed');
      // Hand calculation: struck at the first settlement, the interval ending at 1800 s.
      expect(r.figures['time-to-detect.outsider.authority0']).toBeCloseTo(1800 - 1790, 9);
      expect(r.assertions.map((a) => a.name)).toContain('ledger: balances right on every authority');
    },
    budget(120_000),
  );
});
