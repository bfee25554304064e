import { resolve } from 'node:path';
import { startDemo } from '../../demo.ts';
import {
  DeviceMappingError,
  loadDeviceMapping,
  mergeDeviceMappings,
  parseDeviceOption,
} from '../../devices/device-mapping.ts';
import { readManifest } from '../../recording/index.ts';
import type { DeviceLinkConfig } from '../../runtime/messages.ts';
import {
  checkScenarioFile,
  dtSecondsAlias,
  gridGivenAsScenario,
  numberOption,
  parseCommandArgs,
} from '../args.ts';
import type { Command } from '../command.ts';
import { ExitCode, usageError } from '../exit-codes.ts';
import { runUntilStopped } from '../until-stopped.ts';

const help = `Usage: gridloop run <scenario.yaml> --device <name>=[driver:]<port>[:baud] ... [options]

Runs a scenario in real time against real devices: the twin paced at its step, each mapped device
exchanging with the twin over its link (firmware protocol, SunSpec Modbus RTU, or simulated), with
link supervision and fallback, recording to a run folder and the live page. Ends when the scenario
does (or on Ctrl-C) and reports the scenario's assertions.

  --device bess-hw=/dev/ttyACM0            firmware-protocol board (default driver)
  --device pv=sunspec:/dev/ttyUSB0:19200   SunSpec Modbus RTU device
  --device bess-hw=simulated               the twin's battery model in-process

Options:
  --devices FILE     device mapping file (YAML, docs/bench.md): bus, power scaling, sign
                     convention, fallback, safety limits, signing; --device entries override it
  --port N           HTTP port of the live page (default 7410; 0 picks a free one)
  --host ADDR        address to bind (default 127.0.0.1)
  --runs-dir DIR     where run folders go (default ./runs)
  --seed N           random seed (default: the scenario's)
  --dt-ms N          twin step, milliseconds (default: the scenario's; --dt S is its deprecated old name)
  --record-hz N      recorded samples per second (default 100)
  --scenarios DIR    where scenario start commands from the page or API find <name>.yaml (default ./scenarios)
  --duration S       stop after S seconds of twin time (default: the scenario's duration)
  --json             print the result (assertions, timing, links) as one JSON line

Exit codes: 0 the run's verdict is passed (it reached the scenario's end and every assertion
passed; the same verdict as manifest.json and gridloop report), 1 an assertion failed or the run
was stopped before the scenario's end (Ctrl-C), 2 bad option or input file, 3 runtime failure (a
device that cannot be opened, the loop failed or stopped before the scenario's end).`;

export const runCommand: Command = {
  name: 'run',
  summary: 'run a scenario in real time with devices on serial links; exit code = assertions',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      'run',
      argv,
      {
        device: { type: 'string', multiple: true },
        devices: { type: 'string' },
        port: { type: 'string' },
        host: { type: 'string' },
        'runs-dir': { type: 'string' },
        seed: { type: 'string' },
        'dt-ms': { type: 'string' },
        'record-hz': { type: 'string' },
        scenarios: { type: 'string' },
        duration: { type: 'string' },
        json: { type: 'boolean' },
      },
      dtSecondsAlias,
    );
    if (positionals.length !== 1) throw usageError('gridloop run: give exactly one scenario file');
    const scenarioFile = resolve(positionals[0]);
    checkScenarioFile('run', positionals[0], scenarioFile);
    let devices: DeviceLinkConfig[];
    try {
      const fromFile = values.devices ? await loadDeviceMapping(values.devices) : [];
      devices = mergeDeviceMappings(fromFile, (values.device ?? []).map(parseDeviceOption));
    } catch (err) {
      if (err instanceof DeviceMappingError) throw usageError(`gridloop run: ${err.message}`);
      throw err;
    }
    if (devices.length === 0) {
      throw usageError('gridloop run: map at least one device (--device name=port or --devices FILE)');
    }
    // The scenario's own seed and step are the defaults; the loader validates the file first.
    const { loadScenario } = await import('../../../twin/scenario/load.ts');
    let scenario: Awaited<ReturnType<typeof loadScenario>>;
    try {
      scenario = await loadScenario(scenarioFile);
    } catch (err) {
      throw usageError(
        gridGivenAsScenario('run', positionals[0], scenarioFile) ?? `gridloop run: ${(err as Error).message}`,
      );
    }
    const dt_ms = numberOption('run', 'dt-ms', values['dt-ms'], scenario.dt_s * 1000, 0.05, 1000);
    const demo = await startDemo({
      command: 'run',
      scenario: scenarioFile,
      devices,
      port: numberOption('run', 'port', values.port, 7410, 0, 65535),
      host: values.host ?? '127.0.0.1',
      runsDir: resolve(values['runs-dir'] ?? 'runs'),
      scenariosDir: resolve(values.scenarios ?? 'scenarios'),
      seed: numberOption('run', 'seed', values.seed, scenario.seed, 0, 2 ** 32 - 1),
      dt_s: dt_ms / 1000,
      record_hz: numberOption('run', 'record-hz', values['record-hz'], 100, 0.1, 100_000),
      duration_s:
        values.duration === undefined
          ? undefined
          : numberOption('run', 'duration', values.duration, 0, 0.001, 1e9),
    });
    if (!values.json) {
      console.log(`gridloop run ${scenario.name}: ${demo.url} · recording to ${demo.runDir}`);
      for (const d of devices) console.log(`  ${d.id} ← ${d.driver ?? 'firmware'} ${d.path ?? ''}`);
    }
    const { outcome, result } = await runUntilStopped(demo);
    const end = await demo.loopEnd;
    if (end.type === 'error') {
      console.error(`gridloop run: ${end.message}`);
      return ExitCode.runtime;
    }
    const assertions = end.assertions ?? [];
    // The recorder judged the run when it closed it (bench/recording/verdict.ts).
    const verdict = (await readManifest(demo.runDir)).verdict!;
    const passed = verdict.passed;
    if (values.json) {
      console.log(
        JSON.stringify({
          scenario: scenario.name,
          reason: end.reason,
          runDir: demo.runDir,
          passed,
          verdict: verdict.summary,
          assertions,
          timing: end.timing,
          links: end.links,
        }),
      );
    } else {
      const t = end.timing;
      console.log(
        `stopped (${outcome === 'signal' ? 'signal' : result.reason}) after ${t.steps} steps; lateness p50 ${t.lateness_us.p50} µs, p99 ${t.lateness_us.p99} µs, max ${t.lateness_us.max.toFixed(0)} µs; ${t.overruns} overruns; real-time factor ${t.realTimeFactor.toFixed(3)}`,
      );
      for (const l of end.links) {
        console.log(
          `  link ${l.deviceId}: ${l.online ? 'online' : 'OFFLINE'}, RTT p50 ${l.rtt_us_p50.toFixed(0)} µs p99 ${l.rtt_us_p99.toFixed(0)} µs, ${l.missed} missed, ${l.badFrames} bad frames, ${l.outages} outages`,
        );
      }
      if (end.assertions === undefined)
        console.log('  assertions not judged: the scenario did not run to its end');
      for (const a of assertions) console.log(`  ${a.passed ? 'PASS' : 'FAIL'} ${a.name}: ${a.detail}`);
      console.log(passed ? `PASSED (${verdict.summary})` : `FAILED (${verdict.summary})`);
    }
    if (passed) return ExitCode.ok;
    // Stopped early by the loop itself (an overrun policy, a duration shorter than the scenario):
    // the verdict is failed, and the cause a runtime one.
    if (end.assertions === undefined && outcome !== 'signal') return ExitCode.runtime;
    return ExitCode.assertionsFailed;
  },
};
