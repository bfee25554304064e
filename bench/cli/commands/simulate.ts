import { existsSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { GridInputError } from '../../../twin/grid/model.ts';
import { loadScenario, ScenarioError } from '../../../twin/scenario/load.ts';
import { marketDayLines, SHORTFALL_LIMIT } from '../../market/market-day.ts';
import { type MarketRun, marketRunOf, settlementLines } from '../../market/market-settlement.ts';
import { type SimulateRunResult, simulateRecorded } from '../../recording/simulate-run.ts';
import {
  checkScenarioFile,
  dtSecondsAlias,
  gridGivenAsScenario,
  numberOption,
  parseCommandArgs,
} from '../args.ts';
import type { Command } from '../command.ts';
import { CliError, ExitCode, runtimeError, usageError } from '../exit-codes.ts';
import { openScenarioRun } from '../scenario-run.ts';

const help = `Usage: gridloop simulate <scenario.yaml> [options]

Runs a scenario on the digital twin as fast as possible (no hardware, no real-time pacing) and
records it in the same run-folder format as a real-time run: manifest.json, points.lp.gz (InfluxDB
line protocol), events.jsonl, replay.jsonl.gz (\`gridloop replay\` re-runs it and checks that the
outputs are bit-identical). The scenario format is documented in docs/scenario-format.md.
Ctrl-C stops the run: it is closed as aborted ("interrupted") with what was recorded so far.

Options:
  --out DIR            write the run to exactly this folder (must not exist);
                       default: runs/<yyyymmdd-hhmmss-mmm>-<scenario>/
  --runs-dir DIR       parent folder of run folders (default: runs)
  --record-every S     recording interval, s of twin time (default: the scenario's record.every_s,
                       else 0.01 s or every step if the step is longer)
  --no-record          do not write a run folder
  --json               print one JSON object with the result instead of text
  --dt-ms N            override the scenario's step, milliseconds (as for start, run and replay;
                       --dt S, in seconds, is its deprecated old name)
  --progress S         when stderr is not a terminal (CI, a pipe, a log file), print a progress
                       line every S seconds of wall time (default 5; 0 for none). On a terminal,
                       a progress bar.

A scenario with a market: section also runs its P2P market (docs/market.md, "A market day in
simulate") and checks each interval's FID energy against the cleared exchange: more than 2 % of
the intervals short fails the run like an assertion. Unless its settlement is disabled, each
delivered interval is settled against the meters on the embedded proof-of-authority chain, written
into the run folder (ledger/chain.jsonl, accounts.json: gridloop ledger verify <run> re-checks it);
an interval the chain could not settle fails the run.

Exit codes: 0 all assertions passed, 1 an assertion failed, 2 bad arguments or scenario file
(named with file:line and JSON path), 3 the run failed, 130 interrupted (Ctrl-C, SIGINT).`;

export const simulateCommand: Command = {
  name: 'simulate',
  summary: 'run a scenario on the twin as fast as possible and record it',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      'simulate',
      argv,
      {
        out: { type: 'string' },
        'runs-dir': { type: 'string' },
        'record-every': { type: 'string' },
        'no-record': { type: 'boolean' },
        json: { type: 'boolean' },
        'dt-ms': { type: 'string' },
        progress: { type: 'string' },
      },
      dtSecondsAlias,
    );
    if (positionals.length !== 1)
      throw usageError('gridloop simulate: give exactly one scenario file (see --help)');
    const file = resolve(positionals[0]);
    checkScenarioFile('simulate', positionals[0], file);
    let scenario: Awaited<ReturnType<typeof loadScenario>>;
    try {
      scenario = await loadScenario(file);
    } catch (err) {
      if (err instanceof ScenarioError) {
        throw usageError(
          gridGivenAsScenario('simulate', positionals[0], file) ?? `gridloop simulate: ${err.message}`,
        );
      }
      throw err;
    }
    const dt = numberOption('simulate', 'dt-ms', values['dt-ms'], scenario.dt_s * 1000, 1e-3, 1000) / 1000;
    const progressEvery_s = numberOption('simulate', 'progress', values.progress, 5, 0);
    const every = numberOption(
      'simulate',
      'record-every',
      values['record-every'],
      scenario.record?.every_s ?? Math.max(0.01, dt),
      1e-6,
    );
    const out = values.out ? resolve(values.out) : undefined;
    if (out && existsSync(out)) throw usageError(`gridloop simulate: --out ${values.out} already exists`);
    const record = !values['no-record'];
    const runsDir = out ? dirname(out) : resolve(values['runs-dir'] ?? 'runs');
    // A bar on a terminal; elsewhere (CI logs, pipes) a line every few seconds, so a long run is
    // visibly alive without filling the log.
    const showProgress = !values.json && process.stderr.isTTY;
    const progressLines =
      !showProgress && progressEvery_s > 0 && (!values.json || values.progress !== undefined);
    const started = performance.now();
    let lastLine = started;
    const progressBar = (f: number) => {
      const width = 30;
      const done = Math.round(f * width);
      process.stderr.write(
        `\r[${'#'.repeat(done)}${' '.repeat(width - done)}] ${(f * 100).toFixed(0).padStart(3)}% ${scenario.name}`,
      );
      if (f >= 1) process.stderr.write('\n');
    };
    const progressLine = (f: number) => {
      const now = performance.now();
      if (f >= 1 || now - lastLine < progressEvery_s * 1000) return;
      lastLine = now;
      process.stderr.write(
        `gridloop simulate: ${scenario.name} ${(f * 100).toFixed(0)}% (t = ${(f * scenario.duration_s).toFixed(1)} s of ${scenario.duration_s} s, ${((now - started) / 1000).toFixed(1)} s elapsed)\n`,
      );
    };
    // Ctrl-C stops the run at the next step and closes it as interrupted; a second one kills.
    const interrupt = new AbortController();
    const onSigint = () => interrupt.abort();
    process.once('SIGINT', onSigint);
    let run: SimulateRunResult;
    let market: MarketRun | undefined;
    try {
      // A scenario with a market: section runs its P2P market through the day (docs/market.md).
      market = await marketRunOf(scenario, dt);
      run = await simulateRecorded(scenario, {
        ...market?.options,
        dt_s: dt,
        every_s: every,
        // No device feeds a simulated run: the scenario file, seed and step are all its inputs.
        open: record
          ? () =>
              openScenarioRun('simulate', runsDir, {
                scenario,
                file,
                dt_s: dt,
                devices: (scenario.hardware ?? []).map((h) => ({ id: h.id, transport: 'simulated' })),
                loop: { devices: [], runner: 'simulate' },
              })
          : undefined,
        out,
        signal: interrupt.signal,
        onProgress: showProgress ? progressBar : progressLines ? progressLine : undefined,
      });
    } catch (err) {
      if (err instanceof ScenarioError) throw usageError(`gridloop simulate: ${err.message}`);
      if (err instanceof GridInputError) throw usageError(`gridloop simulate: ${err.message}`);
      if (err instanceof CliError) throw err;
      throw runtimeError(`gridloop simulate: ${scenario.name} failed: ${(err as Error).message}`);
    } finally {
      process.removeListener('SIGINT', onSigint);
    }
    const { result, verdict } = run;
    const runDir = run.runDir;
    if (result.interrupted) {
      if (showProgress) process.stderr.write('\n');
      console.error(
        `gridloop simulate: ${scenario.name} interrupted (SIGINT) at t = ${result.simulated_s.toFixed(3)} s of ${scenario.duration_s} s; no verdict${
          runDir ? `; what was recorded is kept in ${relative(process.cwd(), runDir) || '.'}` : ''
        }`,
      );
      return ExitCode.interrupted;
    }
    const marketReport = market?.market.report();
    const settled = market?.settled;
    const ledgerDir =
      settled?.persisted && runDir ? relative(process.cwd(), join(runDir, 'ledger')) : undefined;
    const marketFailures = [
      ...(marketReport && marketReport.shortfallFraction >= SHORTFALL_LIMIT ? ['market delivery short'] : []),
      ...(settled && settled.unsettled.length > 0 ? ['market intervals not settled'] : []),
    ];
    const marketOk = marketFailures.length === 0;
    const summary = {
      scenario: scenario.name,
      passed: verdict.passed && marketOk,
      verdict: verdict.summary,
      runDir: runDir ? relative(process.cwd(), runDir) || '.' : null,
      steps: result.steps,
      simulated_s: result.simulated_s,
      wall_s: Number(result.wall_s.toFixed(3)),
      realtimeFactor: Number((result.simulated_s / Math.max(result.wall_s, 1e-9)).toFixed(2)),
      assertions: result.assertions,
      solver: result.solver,
      ...(marketReport ? { market: marketReport } : {}),
      ...(run.vpp?.bilevel ? { vpp: { operators: run.vpp.bilevel.operators } } : {}),
      ...(settled
        ? {
            settlement: { ...settled, gas: String(settled.gas), ledgerDir: ledgerDir ?? null },
          }
        : {}),
    };
    if (values.json) {
      console.log(JSON.stringify(summary));
    } else {
      console.log(
        `${basename(file)}: ${result.simulated_s.toFixed(3)} s simulated in ${result.wall_s.toFixed(2)} s (${summary.realtimeFactor}× real time)`,
      );
      for (const a of result.assertions)
        console.log(`  ${a.passed ? 'PASS' : 'FAIL'}  ${a.name}: ${a.detail}`);
      if (marketReport) for (const line of marketDayLines(marketReport)) console.log(line);
      // Bi-level scheduling: what each operator left undelivered and paid for it (docs/vpp.md).
      for (const o of run.vpp?.bilevel?.operators ?? [])
        console.log(
          `  vpp operator ${o.operator}: ${o.undelivered_mwh.toFixed(4)} MWh undelivered, penalty ${o.penalty.toFixed(2)}, demand response paid ${o.dr_payment.toFixed(2)}`,
        );
      if (settled) for (const line of settlementLines(settled, ledgerDir)) console.log(line);
      console.log(
        summary.passed
          ? `PASSED (${verdict.summary})`
          : `FAILED (${[verdict.summary, ...marketFailures].join('; ')})`,
      );
      if (runDir) console.log(`run recorded in ${summary.runDir}`);
    }
    return summary.passed ? ExitCode.ok : ExitCode.assertionsFailed;
  },
};
