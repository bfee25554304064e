import { DEFAULT_STALL_S, RedisSetupError, startRedisWorker } from '../../campaigns/redis.ts';
import { numberOption, parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { ExitCode, runtimeError, usageError } from '../exit-codes.ts';

const help = `Usage: gridloop worker --redis URL [options]

Takes campaign runs (BullMQ jobs added by \`gridloop campaign --redis URL\`) from that Redis and
runs them until stopped (Ctrl-C or SIGTERM: the runs in progress finish first). Each run goes to a
child process, so the twin never blocks the worker's lock renewal. Run folders are written under
--dir on this machine; the figures and verdict travel back through Redis to the campaign folder.

A job made by another gridloop version (a hash of package-lock.json and the sources, printed at
start) is refused: it fails with a message naming both versions instead of mixing results.

Options:
  --redis URL        the Redis the campaign uses (required), e.g. redis://10.0.0.5:6379
  --concurrency N    runs at once (default 1; one per core is the usual choice)
  --dir DIR          where run folders go (default: runs/worker)
  --stall-s S        the worker's lock duration: if this worker dies, its jobs are retried
                     elsewhere after S seconds (default ${DEFAULT_STALL_S}); use the coordinator's value

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
    });
    if (positionals.length > 0)
      throw usageError('gridloop worker: takes no file; give --redis URL (see --help)');
    if (!values.redis) throw usageError('gridloop worker: give --redis URL (the Redis of the campaign)');
    const concurrency = numberOption('worker', 'concurrency', values.concurrency, 1, 1, 256);
    if (!Number.isInteger(concurrency))
      throw usageError(`gridloop worker: --concurrency must be a whole number, got '${values.concurrency}'`);
    const stall_s = numberOption('worker', 'stall-s', values['stall-s'], DEFAULT_STALL_S, 1, 3600);
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
    console.error('gridloop worker: stopping after the runs in progress');
    await worker.close();
    return ExitCode.ok;
  },
};
