/**
 * A BullMQ worker process for `npm run bench:campaign`'s queue figure: takes jobs from the given
 * queue and completes them at once (no-op), so what is measured is the queue itself.
 * argv: redis URL, queue name, concurrency. Prints "ready" when it takes jobs.
 */
import { Worker } from 'bullmq';
import { Redis } from 'ioredis';

const [url, queue, concurrency] = process.argv.slice(2);
const connection = new Redis(url!, {
  maxRetriesPerRequest: null,
});
const worker = new Worker(queue!, async () => 'ok', {
  connection,
  concurrency: Number(concurrency ?? 50),
  removeOnComplete: { count: 0 },
});
await worker.waitUntilReady();
process.stdout.write('ready\n');
process.on('SIGTERM', async () => {
  await worker.close();
  connection.disconnect();
  process.exit(0);
});
