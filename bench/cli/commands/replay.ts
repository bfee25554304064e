import { extname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { ComtradeError, type DriveSpec, FaultRecordError, runFaultRecord } from '../../faultrecords/index.ts';
import { RunFolderError } from '../../recording/index.ts';
import { replayRun } from '../../replay/replay-run.ts';
import { ReplayFeed } from '../../server/replay-feed.ts';
import { type AccessToken, resolveAccessTokens } from '../../server/tokens.ts';
import { checkInputPath, numberOption, parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { ExitCode, runtimeError, usageError } from '../exit-codes.ts';

const help = `Usage: gridloop replay <run-folder> [options]
       gridloop replay <fault-record> --frequency CH | --voltage CH --voltage-base V [options]

Re-drives the twin of a recorded run without hardware: the twin is rebuilt from the run's
manifest (grid, seed, step, device mapping, schedule) and fed the step-stamped device inputs and
operator commands of replay.jsonl.gz. Its outputs are hashed (SHA-256 over every step's bits)
and compared with the hashes recorded during the run. What the run's runner attached to the twin
is attached again: the scenario's VPP, its P2P market (market:) and the VPP bidding in it; the
market's settlement on the chain is not re-run (gridloop ledger verify <run> re-executes it).

Options:
  --speed N      twin time runs N times real time (default: as fast as possible)
  --pause-at S   pause at twin time S seconds and wait for a key (see --step)
  --step         start paused; then on standard input: Enter = one step, c = continue,
                 p = pause again (while running), q = stop
  --every S      print the island frequencies every S seconds of twin time (default 1)
  --serve        show the replay on the live page (watch only): the replayed twin's states and the
                 run's recorded events and detector evaluations (attack and alarm marks, χ² chart),
                 at --speed (default 1 with --serve), starting when the first page connects; the
                 page stays up after the end until Ctrl-C
  --port N       the page's port with --serve (default 7410; 0 picks a free one)
  --host H       the address it listens on with --serve (default 127.0.0.1)

A fault record (COMTRADE .cfg/.dat/.cff, or .csv; docs/recording.md § Fault records) drives the
twin's main grid instead: its frequency and/or voltage follow the record's channels. The twin
runs as fast as possible and the run is recorded to a new run folder (for gridloop report).

Fault-record options:
  --grid FILE             grid file (default grids/demo-33bw-microgrids.yaml)
  --frequency CH          channel (name or A<n>) giving the frequency
  --frequency-from M      value (already Hz) or waveform (zero crossings); default value
  --frequency-scale K     multiply frequencies by K (50/60 = 0.8333 for a 60 Hz record on 50 Hz)
  --voltage CH            channel giving the voltage
  --voltage-from M        value (RMS or magnitude) or waveform (one-cycle RMS); default value
  --voltage-base V        channel value that means 1 pu (required with --voltage)
  --runs-dir DIR          where the run folder goes (default ./runs)
  --seed N, --dt-ms N, --record-hz N, --tail S (seconds to run on after the record ends)

Exit codes: 0 the replay is bit-identical (fault record: the run completed), 1 it diverged (the
first differing checkpoint is printed), 2 not a replayable run folder or a bad record/option
(named with what is wrong).`;

const FAULT_RECORD_EXTENSIONS = new Set(['.cfg', '.cff', '.dat', '.csv']);

async function replayFaultRecord(
  path: string,
  values: Record<string, string | boolean | undefined>,
): Promise<number> {
  const str = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  const mode = (name: string): 'value' | 'waveform' => {
    const raw = str(name) ?? 'value';
    if (raw !== 'value' && raw !== 'waveform')
      throw usageError(`gridloop replay: --${name} must be value or waveform, got '${raw}'`);
    return raw;
  };
  const spec: DriveSpec = {};
  if (str('frequency')) {
    spec.frequency = {
      channel: str('frequency')!,
      from: mode('frequency-from'),
      scale: numberOption('replay', 'frequency-scale', str('frequency-scale'), 1, 1e-3, 1e3),
    };
  }
  if (str('voltage')) {
    if (str('voltage-base') === undefined)
      throw usageError('gridloop replay: --voltage needs --voltage-base');
    spec.voltage = {
      channel: str('voltage')!,
      from: mode('voltage-from'),
      base: numberOption('replay', 'voltage-base', str('voltage-base'), 1, 1e-12),
    };
  }
  if (!spec.frequency && !spec.voltage) {
    throw usageError(
      'gridloop replay: a fault record needs --frequency CH and/or --voltage CH --voltage-base V',
    );
  }
  try {
    const result = await runFaultRecord({
      record: path,
      grid: resolve(str('grid') ?? 'grids/demo-33bw-microgrids.yaml'),
      spec,
      runsDir: resolve(str('runs-dir') ?? 'runs'),
      seed: numberOption('replay', 'seed', str('seed'), 1, 0, 2 ** 32 - 1),
      dt_s: numberOption('replay', 'dt-ms', str('dt-ms'), 1, 0.05, 1000) / 1000,
      record_hz: numberOption('replay', 'record-hz', str('record-hz'), 100, 0.1, 100_000),
      tail_s: numberOption('replay', 'tail', str('tail'), 0, 0, 86_400),
    });
    for (const warning of result.warnings) console.error(`gridloop replay: warning: ${warning}`);
    console.log(
      `fault record ${path}: ${result.steps} steps (${result.duration_s.toFixed(3)} s of twin time)`,
    );
    console.log(`run saved in ${result.runDir}`);
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof ComtradeError || err instanceof FaultRecordError)
      throw usageError(`gridloop replay: ${err.message}`);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT')
      throw usageError(`gridloop replay: ${(err as Error).message}`);
    throw err;
  }
}

export const replayCommand: Command = {
  name: 'replay',
  summary: 'replay a recorded run into the twin without hardware and check bit-identity',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs('replay', argv, {
      speed: { type: 'string' },
      'pause-at': { type: 'string' },
      step: { type: 'boolean' },
      every: { type: 'string' },
      grid: { type: 'string' },
      frequency: { type: 'string' },
      'frequency-from': { type: 'string' },
      'frequency-scale': { type: 'string' },
      voltage: { type: 'string' },
      'voltage-from': { type: 'string' },
      'voltage-base': { type: 'string' },
      'runs-dir': { type: 'string' },
      seed: { type: 'string' },
      'dt-ms': { type: 'string' },
      'record-hz': { type: 'string' },
      tail: { type: 'string' },
      serve: { type: 'boolean' },
      port: { type: 'string' },
      host: { type: 'string' },
    });
    if (positionals.length !== 1) {
      throw usageError(
        positionals.length === 0
          ? 'gridloop replay: missing <run-folder>'
          : `gridloop replay: unexpected argument '${positionals[1]}'`,
      );
    }
    if (FAULT_RECORD_EXTENSIONS.has(extname(positionals[0]!).toLowerCase())) {
      return replayFaultRecord(positionals[0]!, values);
    }
    const serve = values.serve === true;
    const speed = numberOption('replay', 'speed', values.speed, serve ? 1 : 0, 0, 1e6);
    const pauseAt = numberOption('replay', 'pause-at', values['pause-at'], Number.POSITIVE_INFINITY, 0);
    const every = numberOption('replay', 'every', values.every, 1, 1e-6);

    // Keyboard control: keys are queued line by line and consumed one at a time, in order, so
    // piped input ("\n\nq") steps exactly as typed input would.
    let paused = values.step === true;
    const keys: string[] = [];
    let inputClosed = false;
    let wake: (() => void) | undefined;
    const interactive = values.step === true || Number.isFinite(pauseAt);
    const rl = interactive ? createInterface({ input: process.stdin }) : undefined;
    rl?.on('line', (line) => {
      keys.push(line.trim().toLowerCase());
      wake?.();
    });
    rl?.on('close', () => {
      inputClosed = true;
      wake?.();
    });
    /** Returns false when the user asked to quit. */
    const obeyKeys = async (): Promise<boolean> => {
      if (!paused && keys[0] === 'p') {
        keys.shift();
        paused = true;
      }
      if (!paused && keys[0] === 'q') return false;
      while (paused) {
        const key = keys.shift();
        if (key === undefined) {
          // End of input: nothing more will come, so run to the end rather than hang.
          if (inputClosed) {
            paused = false;
            break;
          }
          await new Promise<void>((r) => (wake = r));
          continue;
        }
        if (key === 'q') return false;
        if (key === 'c') paused = false;
        if (key === '' || key === 'c') break;
      }
      return true;
    };

    let startWall = performance.now();
    let dt_s = 0;
    let nextPrint = 0;
    let stoppedAt: number | undefined;
    let feed: ReplayFeed | undefined;
    let lastT = 0;
    let lastYield = 0;
    try {
      checkInputPath('replay', 'run folder', positionals[0]!, resolve(positionals[0]!));
      if (serve) {
        feed = await openFeed(resolve(positionals[0]!), values.host, values.port);
        // A page opened late would miss the run's start: nothing moves until one is watching.
        console.log('  the replay starts when the first page connects');
        await feed.firstClient();
        startWall = performance.now();
      }
      const result = await replayRun(resolve(positionals[0]!), {
        async beforeStep(step) {
          const t = step * dt_s;
          if (dt_s > 0 && t >= pauseAt && t - dt_s < pauseAt) {
            paused = true;
            console.log(`paused at t = ${t.toFixed(6)} s (Enter: step, c: continue, q: quit)`);
          }
          if (!(await obeyKeys())) {
            stoppedAt = step;
            throw new StopReplay();
          }
          if (speed > 0 && dt_s > 0) {
            const due = startWall + (t / speed) * 1000;
            const wait = due - performance.now();
            if (wait > 1) {
              await new Promise((r) => setTimeout(r, wait));
              lastYield = performance.now();
            }
          }
          // A replay slower than asked never waits: let the page's server send its states anyway.
          if (feed && performance.now() - lastYield > 20) {
            await new Promise((r) => setTimeout(r, 0));
            lastYield = performance.now();
          }
        },
        afterStep({ step, state }) {
          dt_s = state.t_s / (step + 1);
          lastT = state.t_s;
          feed?.afterStep(state);
          if (paused || state.t_s + 1e-12 >= nextPrint) {
            nextPrint = Math.floor(state.t_s / every + 1) * every;
            const islands = state.islands.map((i) => `${i.id} ${i.f_hz.toFixed(4)} Hz`).join(', ');
            console.log(`t = ${state.t_s.toFixed(3)} s  step ${step}  ${islands}`);
          }
        },
      });
      const wall = (performance.now() - startWall) / 1000;
      const replayed_s = (result.steps * result.dt_s).toFixed(3);
      console.log(`replayed ${result.steps} steps (${replayed_s} s of twin time) in ${wall.toFixed(2)} s`);
      if (result.status === 'incomplete') {
        // Killed or crashed: the log holds what was flushed (≤ 250 ms before the end).
        console.log(`run incomplete (it never closed), replayed to t = ${replayed_s} s: its last flush`);
      }
      if (result.identical) {
        console.log(`bit-identical: yes (${result.checkpoints} checkpoints, final hash ${result.finalHash})`);
      } else if (result.divergence) {
        console.log(
          `bit-identical: NO — first difference at step ${result.divergence.step}: recorded ${result.divergence.recorded}, replayed ${result.divergence.replayed}`,
        );
      } else console.log('bit-identical: NO — no checkpoint was compared');
      if (result.market) {
        const vpp = result.market.vpp ? `, VPP '${result.market.vpp}' bidding as one participant` : '';
        console.log(
          `market: attached again (${result.market.intervals} intervals cleared again${vpp}); its settlement is not re-run: gridloop ledger verify ${positionals[0]} re-executes the run's chain`,
        );
      }
      if (feed) await keepServing(feed, lastT);
      return result.identical ? ExitCode.ok : ExitCode.assertionsFailed;
    } catch (err) {
      if (err instanceof StopReplay) {
        console.log(`stopped at step ${stoppedAt}`);
        if (feed) await keepServing(feed, lastT);
        return ExitCode.ok;
      }
      if (err instanceof RunFolderError) throw usageError(`gridloop replay: ${err.message}`);
      throw err;
    } finally {
      rl?.close();
      await feed?.close();
    }
  },
};

class StopReplay extends Error {}

/** Starts the watch-only live page of a replay and prints its links. */
async function openFeed(
  dir: string,
  host: string | undefined,
  port: string | undefined,
): Promise<ReplayFeed> {
  let tokens: readonly AccessToken[];
  try {
    tokens = resolveAccessTokens(process.env).tokens;
  } catch (err) {
    throw usageError(`gridloop replay: ${(err as Error).message}`);
  }
  let feed: ReplayFeed;
  try {
    feed = await ReplayFeed.open(dir, {
      host: host ?? '127.0.0.1',
      port: numberOption('replay', 'port', port, 7410, 0, 65535),
      tokens,
    });
  } catch (err) {
    if (err instanceof RunFolderError) throw err;
    throw runtimeError(`gridloop replay: cannot serve the live page: ${(err as Error).message}`);
  }
  const viewer = tokens.find((t) => t.role === 'viewer')?.token ?? '';
  console.log(`replay on the live page: ${feed.url}`);
  console.log(`  viewer link: ${feed.url}#token=${viewer}  <- give this one to students (watch only)`);
  return feed;
}

/** After the end the page stays up, showing the whole run, until Ctrl-C (SIGINT) or SIGTERM. */
async function keepServing(feed: ReplayFeed, t_s: number): Promise<void> {
  feed.finished(t_s);
  console.log('replay ended; the live page stays up: press Ctrl-C to stop');
  await new Promise<void>((resolveSignal) => {
    process.once('SIGINT', () => resolveSignal());
    process.once('SIGTERM', () => resolveSignal());
  });
}
