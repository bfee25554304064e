/**
 * A campaign run by the coordinator (`gridloop campaign`): finds what the campaign folder already
 * holds, hands the rest to a backend (embedded pool or BullMQ), stores each result once as it
 * arrives, and writes the table, JUnit XML, HTML report and verdict from the stored results.
 */
import type { RunResult } from './execute.ts';
import type { Campaign } from './load.ts';
import { type CampaignVerdict, writeOutputs } from './outputs.ts';
import type { RunBackend } from './pool.ts';
import { type CampaignProgress, ProgressTracker } from './progress.ts';
import { CampaignStore } from './store.ts';

export interface CampaignRunOptions {
  /** The campaign folder. */
  dir: string;
  backend: RunBackend;
  version: string;
  onProgress?: (p: CampaignProgress) => void;
  /** Each result as it is stored (InfluxDB points, the live page). */
  onResult?: (r: RunResult) => void;
}

export interface CampaignOutcome {
  verdict: CampaignVerdict;
  /** Runs found done in the folder and not run again. */
  skipped: number;
  /** Runs done in this session. */
  ran: number;
  /** Results that arrived for a run already stored (a retried job finishing twice): dropped. */
  duplicates: number;
  progress: CampaignProgress;
}

export async function runCampaign(campaign: Campaign, options: CampaignRunOptions): Promise<CampaignOutcome> {
  const store = new CampaignStore(options.dir);
  await store.open(campaign, options.version);
  const done = await store.done(campaign);
  const todo = campaign.runs.filter((r) => !done.has(r.id));
  const tracker = new ProgressTracker(
    campaign.name,
    campaign.runs.length,
    done.size,
    [...done.values()].filter((r) => r.status !== 'passed').length,
    options.onProgress,
  );
  let ran = 0;
  let duplicates = 0;
  await options.backend.run(todo, {
    onStart: (id) => tracker.start(id),
    onResult: async (result) => {
      if (!(await store.put(result))) {
        duplicates++;
        return;
      }
      ran++;
      tracker.finish(result.id, result.status === 'passed');
      options.onResult?.(result);
    },
  });
  const stored = await store.done(campaign);
  const verdict = await writeOutputs(options.dir, campaign, [...stored.values()]);
  return { verdict, skipped: done.size, ran, duplicates, progress: tracker.snapshot() };
}
