import { join, resolve } from 'node:path';
import { startDemo } from '../../demo.ts';
import { dtSecondsAlias, numberOption, parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { ExitCode, usageError } from '../exit-codes.ts';
import { runUntilStopped } from '../until-stopped.ts';

const help = `Usage: gridloop start [options]

Starts the default demo: the twin of the demo microgrid system in real time, an emulated battery
controller board on its own pseudo-terminal (talking the firmware protocol through serialport),
recording under ./runs/, and the live page. Prints the page's URL. Stops on Ctrl-C.

Options:
  --port N           HTTP port of the live page (default 7410; 0 picks a free one)
  --host ADDR        address to bind (default 127.0.0.1)
  --runs-dir DIR     where run folders go (default ./runs)
  --grid FILE        grid file (default grids/demo-33bw-microgrids.yaml)
  --seed N           random seed (default 1)
  --dt-ms N          twin step, milliseconds (default 1; --dt S is its deprecated old name)
  --record-hz N      recorded samples per second (default 100)
  --scenarios DIR    where scenario start commands from the page or API find <name>.yaml (default ./scenarios)
  --duration S       stop after S seconds of twin time (default: run until Ctrl-C)
  --node-red         also run the Node-RED flow editor under /flows, with the gridloop nodes
                     installed; open to the admin token only (docs/node-red.md)
  --node-red-dir DIR Node-RED's user directory: flows, credentials (default ./.gridloop/node-red)

Exit codes: 0 stopped cleanly, 2 bad option, 3 runtime failure (port in use, board failed).`;

export const startCommand: Command = {
  name: 'start',
  summary: 'start the demo: real-time twin, emulated board, recording, live page',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs(
      'start',
      argv,
      {
        port: { type: 'string' },
        host: { type: 'string' },
        'runs-dir': { type: 'string' },
        grid: { type: 'string' },
        seed: { type: 'string' },
        'dt-ms': { type: 'string' },
        'record-hz': { type: 'string' },
        scenarios: { type: 'string' },
        duration: { type: 'string' },
        'node-red': { type: 'boolean' },
        'node-red-dir': { type: 'string' },
      },
      dtSecondsAlias,
    );
    if (positionals.length > 0) {
      throw usageError(`gridloop start: unexpected argument '${positionals[0]}'`);
    }
    if (values['node-red-dir'] !== undefined && !values['node-red']) {
      throw usageError('gridloop start: --node-red-dir needs --node-red');
    }
    const dt_ms = numberOption('start', 'dt-ms', values['dt-ms'], 1, 0.05, 1000);
    const started = performance.now();
    console.error('gridloop start: starting the twin, the emulated battery board and the live page…');
    const demo = await startDemo({
      onStatus: (message) => console.error(`gridloop start: ${message}`),
      port: numberOption('start', 'port', values.port, 7410, 0, 65535),
      host: values.host ?? '127.0.0.1',
      runsDir: resolve(values['runs-dir'] ?? 'runs'),
      scenariosDir: resolve(values.scenarios ?? 'scenarios'),
      grid: values.grid,
      seed: numberOption('start', 'seed', values.seed, 1, 0, 2 ** 32 - 1),
      dt_s: dt_ms / 1000,
      record_hz: numberOption('start', 'record-hz', values['record-hz'], 100, 0.1, 100_000),
      duration_s:
        values.duration === undefined
          ? undefined
          : numberOption('start', 'duration', values.duration, 0, 0.001, 1e9),
      nodeRedDir: values['node-red']
        ? resolve(values['node-red-dir'] ?? join('.gridloop', 'node-red'))
        : undefined,
    });
    console.error(`gridloop start: ready in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    console.log(`gridloop demo running: ${demo.url}`);
    console.log(`  board ${demo.boardPath} · recording to ${demo.runDir}`);
    const tokenOf = (role: string) => demo.tokens.find((t) => t.role === role)?.token ?? '';
    console.log(`  viewer link: ${demo.url}?token=${tokenOf('viewer')}`);
    console.log(`  operator token: ${tokenOf('operator')}`);
    if (demo.flowsUrl) console.log(`  flow editor (admin): ${demo.flowsUrl}?token=${tokenOf('admin')}`);
    console.log('  press Ctrl-C to stop');

    const { outcome, result } = await runUntilStopped(demo);
    console.log(
      `gridloop demo stopped (${outcome === 'signal' ? 'signal' : result.reason}); run saved in ${demo.runDir}`,
    );
    return result.reason === 'error' ? ExitCode.runtime : ExitCode.ok;
  },
};
