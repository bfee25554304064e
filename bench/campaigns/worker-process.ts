/**
 * An embedded campaign worker: a child process of `gridloop campaign` (bench/campaigns/pool.ts)
 * that runs one run at a time as its parent hands them over IPC and answers with the result.
 * A process, not a worker thread: a run that crashes or hangs takes only its own process down.
 */
import { executeRun } from './execute.ts';
import type { PoolReply, PoolRequest } from './pool.ts';

if (!process.send)
  throw new Error('worker-process must be forked with an IPC channel (WorkerPool does this)');

process.on('message', async (message: PoolRequest) => {
  const result = await executeRun(message.spec, message.workDir, message.columns, message.attempt);
  process.send!({ id: message.spec.id, result } satisfies PoolReply);
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true });
