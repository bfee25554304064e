import type { TwinAction } from '../../twin/twin.ts';
import type { DeviceLinkConfig } from '../runtime/messages.ts';
import { createRunTwin } from '../runtime/twin-factory.ts';
import { RunFolderError, type RunStatus, readManifest } from './manifest.ts';
import { type ReplayControl, type ReplayResult, readReplayLog, replayRecords } from './replay-log.ts';

/**
 * Replays a recorded run folder: rebuilds the twin from the manifest's `loop` section (grid,
 * seed, step, device mapping, schedule), re-applies the step-stamped device inputs and commands
 * of replay.jsonl.gz, and compares output hashes with the recorded checkpoints.
 */
export async function replayRun(
  dir: string,
  control: ReplayControl = {},
): Promise<ReplayResult & { dt_s: number; status: RunStatus }> {
  const manifest = await readManifest(dir);
  const loop = manifest.loop;
  if (!loop?.twin?.grid) {
    throw new RunFolderError(`${dir}/manifest.json: $.loop.twin is missing; this run cannot be replayed`);
  }
  const records = await readReplayLog(dir);
  if (!records.some((r) => r.k === 'hash')) {
    throw new RunFolderError(`${dir}/replay.jsonl.gz: no output hash checkpoint to compare against`);
  }
  let twin: Awaited<ReturnType<typeof createRunTwin>>['twin'];
  try {
    // The same construction as the loop process (scenario twins included).
    twin = (await createRunTwin(loop.twin, loop.devices as unknown as DeviceLinkConfig[])).twin;
  } catch (err) {
    throw new RunFolderError(
      `${dir}/manifest.json: $.loop: cannot rebuild the twin: ${(err as Error).message}`,
    );
  }
  for (const item of loop.schedule ?? []) twin.scheduleAt(item.t_s, item.action as TwinAction);
  const result = await replayRecords(
    twin,
    records,
    loop.devices.map((d) => d.id),
    control,
  );
  return { ...result, dt_s: twin.dt_s, status: manifest.status };
}
