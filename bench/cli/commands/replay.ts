import { resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { RunFolderError, replayRun } from '../../recording/index.ts';
import { numberOption, parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { ExitCode, usageError } from '../exit-codes.ts';

const help = `Usage: gridloop replay <run-folder> [options]

Re-drives the twin of a recorded run without hardware: the twin is rebuilt from the run's
manifest (grid, seed, step, device mapping, schedule) and fed the step-stamped device inputs and
operator commands of replay.jsonl.gz. Its outputs are hashed (SHA-256 over every step's bits)
and compared with the hashes recorded during the run.

Options:
  --speed N      twin time runs N times real time (default: as fast as possible)
  --pause-at S   pause at twin time S seconds and wait for a key (see --step)
  --step         start paused; then on standard input: Enter = one step, c = continue,
                 p = pause again (while running), q = stop
  --every S      print the island frequencies every S seconds of twin time (default 1)

Exit codes: 0 the replay is bit-identical, 1 it diverged (the first differing checkpoint is
printed), 2 not a replayable run folder (named with what is missing).`;

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
    });
    if (positionals.length !== 1) {
      throw usageError(
        positionals.length === 0
          ? 'gridloop replay: missing <run-folder>'
          : `gridloop replay: unexpected argument '${positionals[1]}'`,
      );
    }
    const speed = numberOption('replay', 'speed', values.speed, 0, 0, 1e6);
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

    const startWall = performance.now();
    let dt_s = 0;
    let nextPrint = 0;
    let stoppedAt: number | undefined;
    try {
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
            if (wait > 1) await new Promise((r) => setTimeout(r, wait));
          }
        },
        afterStep({ step, state }) {
          dt_s = state.t_s / (step + 1);
          if (paused || state.t_s + 1e-12 >= nextPrint) {
            nextPrint = Math.floor(state.t_s / every + 1) * every;
            const islands = state.islands.map((i) => `${i.id} ${i.f_hz.toFixed(4)} Hz`).join(', ');
            console.log(`t = ${state.t_s.toFixed(3)} s  step ${step}  ${islands}`);
          }
        },
      });
      const wall = (performance.now() - startWall) / 1000;
      console.log(
        `replayed ${result.steps} steps (${(result.steps * result.dt_s).toFixed(3)} s of twin time) in ${wall.toFixed(2)} s`,
      );
      if (result.identical) {
        console.log(`bit-identical: yes (${result.checkpoints} checkpoints, final hash ${result.finalHash})`);
        return ExitCode.ok;
      }
      if (result.divergence) {
        console.log(
          `bit-identical: NO — first difference at step ${result.divergence.step}: recorded ${result.divergence.recorded}, replayed ${result.divergence.replayed}`,
        );
      } else console.log('bit-identical: NO — no checkpoint was compared');
      return ExitCode.assertionsFailed;
    } catch (err) {
      if (err instanceof StopReplay) {
        console.log(`stopped at step ${stoppedAt}`);
        return ExitCode.ok;
      }
      if (err instanceof RunFolderError) throw usageError(`gridloop replay: ${err.message}`);
      throw err;
    } finally {
      rl?.close();
    }
  },
};

class StopReplay extends Error {}
