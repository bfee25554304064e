import { DEFAULT_STALL_S, DEFAULT_STOP_S, RedisSetupError, startRedisWorker } from '../../campaigns/redis.ts';
import { numberOption, parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { ExitCode, runtimeError, usageError } from '../exit-codes.ts';

const help = `Usage: gridloop worker --redis URL [options]

Takes campaign runs (BullMQ jobs added by \`gridloop campaign --redis URL\`) from that Redis and
runs them until stopped. Each run goes to a child process, so the twin never blocks the worker's
lock renewal. Run folders are written under --dir on this machine; the figures and verdict travel
back through Redis to the campaign folder.

Stopping (Ctrl-C or SIGTERM): the runs in progress finish first, for at most --stop-s seconds;
with Redis unreachable it stops within a few seconds; a second signal stops at once. A run left
unfinished is retried elsewhere after the stall time.

It takes only jobs made by its own gridloop version (a hash of package-lock.json and the sources,
printed at start): runs queued by another version wait for a worker of that version, and this
one says so instead of mixing results.

Options:
  --redis URL        the Redis the campaign uses (required), e.g. redis://10.0.0.5:6379
  --concurrency N    runs at once (default 1; one per core is the usual choice)
  --dir DIR          where run folders go (default: runs/worker)
  --stall-s S        the worker's lock duration: if this worker dies, its jobs are retried
                     elsewhere after S seconds (default ${DEFAULT_STALL_S}); use the coordinator's value
  --stop-s S         on Ctrl-C/SIGTERM, wait at most S seconds for the runs in progress
                     (default ${DEFAULT_STOP_S})

Exit codes: 0 stopped, 2 bad arguments, 3 Redis unreachable or misconfigured.`;

export const workerCommand: Command = {
  name: 'worker',
  summary: 'take campaign runs from Redis (BullMQ) and run them',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs('worker', argv, {
      redis: { type: 'string' },
      concurrency: { type: 'string' },
      dir: { type: 'string' },
      'stall-s': { type: 'string' },
      'stop-s': { type: 'string' },
    });
    if (positionals.length > 0)
      throw usageError('gridloop worker: takes no file; give --redis URL (see --help)');
    if (!values.redis) throw usageError('gridloop worker: give --redis URL (the Redis of the campaign)');
    const concurrency = numberOption('worker', 'concurrency', values.concurrency, 1, 1, 256);
    if (!Number.isInteger(concurrency))
      throw usageError(`gridloop worker: --concurrency must be a whole number, got '${values.concurrency}'`);
    const stall_s = numberOption('worker', 'stall-s', values['stall-s'], DEFAULT_STALL_S, 1, 3600);
    const stop_s = numberOption('worker', 'stop-s', values['stop-s'], DEFAULT_STOP_S, 0, 86400);
    let worker: Awaited<ReturnType<typeof startRedisWorker>>;
    try {
      worker = await startRedisWorker({
        url: values.redis,
        dir: values.dir ?? 'runs/worker',
        concurrency,
        stall_s,
        log: (line) => console.error(`gridloop worker: ${line}`),
      });
    } catch (err) {
      if (err instanceof RedisSetupError) throw runtimeError(`gridloop worker: ${err.message}`);
      throw err;
    }
    console.error(
      `gridloop worker: version ${worker.version}, taking jobs from ${values.redis} (${concurrency} at once, stall time ${stall_s} s)`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
    console.error(
      `gridloop worker: stopping after the runs in progress (at most ${stop_s} s; Ctrl-C again to stop now)`,
    );
    const again = () => {
      console.error(
        'gridloop worker: stopped at once; runs in progress are retried elsewhere after the stall time',
      );
      worker.kill();
      process.exit(ExitCode.ok);
    };
    process.once('SIGINT', again);
    process.once('SIGTERM', again);
    const stop = await worker.close(stop_s);
    console.error(`gridloop worker: stopped ${stop.reason}`);
    // Exits here: a client still reconnecting to a Redis that is gone must not keep the process alive.
    process.exit(ExitCode.ok);
  },
};
