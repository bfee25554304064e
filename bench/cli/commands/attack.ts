import { existsSync } from 'node:fs';
import { rename } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { loadSecurityScenario, type SecurityScenario } from '../../../twin/attacks/security.ts';
import { loadGridFile } from '../../../twin/files.ts';
import { ScenarioError } from '../../../twin/scenario/load.ts';
import { attackRecorded } from '../../attacks/attack-run.ts';
import {
  consensusLines,
  ledgerSectionOf,
  recordConsensus,
  runConsensusScenario,
} from '../../market/consensus-scenario.ts';
import { marketDayLines } from '../../market/market-day.ts';
import { type MarketRun, marketRunOf, settlementLines } from '../../market/market-settlement.ts';
import { assertionResults } from '../../recording/index.ts';
import { checkScenarioFile, parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { ExitCode, runtimeError, usageError } from '../exit-codes.ts';
import { openScenarioRun } from '../scenario-run.ts';

const help = `Usage: gridloop attack <scenario.yaml> [options]

Runs an attack scenario (a scenario with a security: section, docs/security.md): installs the
attacks, runs the detectors, measures detection against the ground-truth labels and checks the
scenario's assertions and security expectations. Scenarios with security.link put the C emulated
battery board in the loop over a pseudo-terminal; scenarios with security.ledger attack the P2P
market's proof-of-authority ledger (docs/market.md, "Consensus under attack"). The run folder holds the twin's points plus the
attack labels, detector samples, alarms and detection metrics (docs/influx-schema.md); feed it to
\`gridloop report\` or \`gridloop export-dataset\`. A scenario with a market: section runs its P2P
market (and the VPP bidding in it, market.vpp) beside the attacks, as gridloop simulate does.

Options:
  --out DIR       write the run to exactly this folder (must not exist)
  --runs-dir DIR  parent folder of run folders (default: runs)
  --json          print one JSON object (metrics and outcomes) instead of text

Exit codes: 0 all passed, 1 an assertion or expectation failed, 2 bad arguments or scenario file,
3 the run failed.`;

export const attackCommand: Command = {
  name: 'attack',
  summary: 'run an attack scenario, measure detection and record it',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs('attack', argv, {
      out: { type: 'string' },
      'runs-dir': { type: 'string' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 1)
      throw usageError('gridloop attack: give exactly one scenario file (see --help)');
    const file = resolve(positionals[0]);
    checkScenarioFile('attack', positionals[0], file);
    let scenario: SecurityScenario;
    try {
      scenario = await loadSecurityScenario(file);
    } catch (err) {
      if (err instanceof ScenarioError) throw usageError(`gridloop attack: ${err.message}`);
      throw err;
    }
    const out = values.out ? resolve(values.out) : undefined;
    if (out && existsSync(out)) throw usageError(`gridloop attack: --out ${values.out} already exists`);
    const runsDir = out ? dirname(out) : resolve(values['runs-dir'] ?? 'runs');
    if (ledgerSectionOf(scenario)) return runConsensus(scenario, file, runsDir, out, values.json === true);
    await loadGridFile(scenario.grid).catch((err: Error) => {
      throw usageError(`gridloop attack: ${err.message}`);
    });
    const link = (scenario.security as { link?: { device: string } }).link;
    let run: Awaited<ReturnType<typeof attackRecorded>>;
    let market: MarketRun | undefined;
    try {
      // Its P2P market, as `gridloop simulate` runs it (docs/market.md).
      market = link ? undefined : await marketRunOf(scenario, scenario.dt_s);
      run = await attackRecorded(scenario, {
        ...market?.options,
        every_s: scenario.record?.every_s ?? Math.max(0.01, scenario.dt_s),
        out,
        // What `gridloop replay` needs: the scenario (twin, script, attacks, detectors) and the
        // devices whose inputs replay.jsonl.gz holds (the board on the link, or the simulated ones).
        open: () =>
          openScenarioRun('attack', runsDir, {
            scenario,
            file,
            dt_s: scenario.dt_s,
            devices: link ? [{ id: link.device, transport: 'pty' }] : [],
            loop: {
              devices: link
                ? [{ id: link.device }]
                : (scenario.security.boards ?? []).map((b) => ({ id: b.device })),
              runner: 'attack',
            },
          }),
      });
    } catch (err) {
      if (err instanceof ScenarioError) throw usageError(`gridloop attack: ${err.message}`);
      throw runtimeError(`gridloop attack: ${scenario.name} failed: ${(err as Error).message}`);
    }
    const { result, verdict } = run;
    const runDir = run.runDir!;
    const outcomes = assertionResults([...result.assertions, ...result.expectations], scenario.duration_s);
    if (values.json) {
      console.log(
        JSON.stringify({
          scenario: scenario.name,
          passed: verdict.passed,
          verdict: verdict.summary,
          runDir: relative(process.cwd(), runDir),
          metrics: result.metrics,
          outcomes,
          ...(market ? { market: market.market.report() } : {}),
        }),
      );
    } else {
      console.log(`${basename(file)}: ${scenario.duration_s} s simulated`);
      for (const a of result.metrics.attacks)
        console.log(
          `  attack ${a.id} (${a.kind} on ${a.target}, ${a.start_s}–${a.stop_s} s): ${
            a.detected
              ? `detected after ${a.timeToDetect_s?.toFixed(3)} s by ${Object.keys(a.detectedBy).join(', ')}`
              : 'NOT detected'
          }; max |Δf| ${a.maxFrequencyDeviation_hz.toFixed(3)} Hz`,
        );
      for (const d of result.metrics.detectors)
        console.log(
          `  detector ${d.detector}: ${d.evaluations} evaluations, false alarms ${d.falseAlarms} (${d.falseAlarmsPerHour.toFixed(1)}/h, ${(100 * d.falseAlarmFraction).toFixed(2)} % of attack-free evaluations)`,
        );
      for (const a of outcomes) console.log(`  ${a.passed ? 'PASS' : 'FAIL'}  ${a.name}: ${a.message}`);
      if (market) for (const line of marketDayLines(market.market.report())) console.log(line);
      const settled = market?.settled;
      const ledgerDir = settled?.persisted ? relative(process.cwd(), join(runDir, 'ledger')) : undefined;
      if (settled) for (const line of settlementLines(settled, ledgerDir)) console.log(line);
      console.log(verdict.passed ? `PASSED (${verdict.summary})` : `FAILED (${verdict.summary})`);
      console.log(`run recorded in ${relative(process.cwd(), runDir)}`);
    }
    return verdict.passed ? ExitCode.ok : ExitCode.assertionsFailed;
  },
};

/** A security.ledger scenario: the market day settled on the chain under attack (docs/market.md). */
async function runConsensus(
  scenario: SecurityScenario,
  file: string,
  runsDir: string,
  out: string | undefined,
  json: boolean,
): Promise<number> {
  const rec = await openScenarioRun('attack', runsDir, {
    scenario,
    file,
    dt_s: scenario.dt_s,
    devices: [],
    loop: { devices: [], runner: 'attack' },
  });
  const point = rec.point.bind(rec);
  let r: Awaited<ReturnType<typeof runConsensusScenario>>;
  try {
    // The market's own points (market_interval, market_trade, market_fid) as the day runs.
    r = await runConsensusScenario(scenario, { point, timeOf: (t) => rec.timeOf(t) });
  } catch (err) {
    await rec.close({ status: 'failed', reason: (err as Error).message });
    if (err instanceof ScenarioError) throw usageError(`gridloop attack: ${err.message}`);
    throw runtimeError(`gridloop attack: ${scenario.name} failed: ${(err as Error).message}`);
  }
  recordConsensus(r, point, (t) => rec.timeOf(t));
  const outcomes = [
    ...r.attacks.map((a) => ({
      name: `${a.id} rejected`,
      type: 'ledger-attack',
      passed: a.detected,
      detail: a.detected ? `by ${a.rejectedBy.join(', ')}: ${a.reasons[0]}` : 'not rejected',
    })),
    {
      name: 'no honest block or reading refused',
      type: 'ledger-false-alarms',
      passed: r.falseAlarms.length === 0,
      detail: r.falseAlarms.length === 0 ? 'none' : r.falseAlarms.join('; '),
    },
    {
      name: 'balances right on every authority',
      type: 'ledger-balances',
      passed: r.balanceMismatches.length === 0,
      detail:
        r.balanceMismatches.length === 0
          ? `${r.participantsChecked} participants equal the unattacked reference chain`
          : r.balanceMismatches.slice(0, 5).join('; '),
    },
  ];
  const verdict = (
    await rec.close({ status: 'complete', assertions: assertionResults(outcomes, scenario.duration_s) })
  ).verdict!;
  let runDir = rec.dir;
  if (out) {
    await rename(rec.dir, out);
    runDir = out;
  }
  if (json) {
    console.log(
      JSON.stringify({
        scenario: scenario.name,
        passed: verdict.passed,
        verdict: verdict.summary,
        runDir: relative(process.cwd(), runDir),
        attacks: r.attacks,
        falseAlarms: r.falseAlarms,
        balanceMismatches: r.balanceMismatches,
        settled: r.settled,
      }),
    );
  } else {
    console.log(`${basename(file)}: ${r.settled} market intervals settled on the chain under attack`);
    for (const line of consensusLines(r)) console.log(line);
    console.log(verdict.passed ? `PASSED (${verdict.summary})` : `FAILED (${verdict.summary})`);
    console.log(`run recorded in ${relative(process.cwd(), runDir)}`);
  }
  return verdict.passed ? ExitCode.ok : ExitCode.assertionsFailed;
}
