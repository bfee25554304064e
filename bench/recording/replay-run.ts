import type { TwinState } from '../../twin/api.ts';
import { loadSecurityScenario, SecurityHarness } from '../../twin/attacks/security.ts';
import { loadScenario } from '../../twin/scenario/load.ts';
import { buildScenarioTwin } from '../../twin/scenario/runner.ts';
import type { Twin, TwinAction } from '../../twin/twin.ts';
import type { DeviceLinkConfig } from '../runtime/messages.ts';
import { createRunTwin } from '../runtime/twin-factory.ts';
import { scenarioVppRun } from '../vpp/scenario.ts';
import { type ManifestInput, RunFolderError, type RunStatus, readManifest } from './manifest.ts';
import { type ReplayControl, type ReplayResult, readReplayLog, replayRecords } from './replay-log.ts';

type LoopSection = NonNullable<ManifestInput['loop']>;

/**
 * The twin a run stepped, built again the way its runner built it, and what the runner did to
 * it after each step besides stepping it (the attack engine and detectors of `gridloop attack`).
 */
async function rebuildTwin(
  loop: LoopSection,
): Promise<{ twin: Twin; afterStep?: (state: TwinState) => void }> {
  const runner = loop.runner ?? 'loop';
  if (runner === 'loop') {
    // The same construction as the loop process (scenario twins included).
    return { twin: (await createRunTwin(loop.twin, loop.devices as unknown as DeviceLinkConfig[])).twin };
  }
  // `simulate` and `attack` build the twin with the scenario's script applied at build time
  // (initial state, events scheduled), as runScenario and runSecurityScenario do.
  if (!loop.twin.scenario) throw new Error(`$.loop.twin.scenario is missing for a '${runner}' run`);
  // The scenario's VPP runs in-line on the twin's clock: attached again, it decides again the same.
  if (runner === 'simulate') {
    const scenario = { ...(await loadScenario(loop.twin.scenario)), seed: loop.twin.seed };
    const vpp = await scenarioVppRun(scenario);
    return { twin: await buildScenarioTwin(scenario, loop.twin.dt_s, { controllers: vpp?.controllers }) };
  }
  const scenario = { ...(await loadSecurityScenario(loop.twin.scenario)), seed: loop.twin.seed };
  const vpp = await scenarioVppRun(scenario);
  const twin = await buildScenarioTwin(scenario, loop.twin.dt_s, { controllers: vpp?.controllers });
  // Attacks on the market's chain (`ledger.*`, bench/market/consensus-scenario.ts) strike the chain,
  // not the twin: its steps replay without them.
  const attacks = scenario.security.attacks?.filter((a) => !a.target.startsWith('ledger.'));
  const harness = new SecurityHarness(twin, { ...scenario.security, attacks });
  return { twin, afterStep: (state) => harness.afterStep(state) };
}

/**
 * Replays a recorded run folder: rebuilds the twin from the manifest's `loop` section (grid,
 * seed, step, device mapping, schedule, runner), re-applies the step-stamped device inputs and
 * commands of replay.jsonl.gz, and compares output hashes with the recorded checkpoints.
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
  let rebuilt: Awaited<ReturnType<typeof rebuildTwin>>;
  try {
    rebuilt = await rebuildTwin(loop);
  } catch (err) {
    throw new RunFolderError(
      `${dir}/manifest.json: $.loop: cannot rebuild the twin: ${(err as Error).message}`,
    );
  }
  const { twin, afterStep } = rebuilt;
  for (const item of loop.schedule ?? []) twin.scheduleAt(item.t_s, item.action as TwinAction);
  const result = await replayRecords(
    twin,
    records,
    loop.devices.map((d) => d.id),
    afterStep
      ? {
          beforeStep: control.beforeStep,
          afterStep(progress) {
            afterStep(progress.state);
            control.afterStep?.(progress);
          },
        }
      : control,
  );
  return { ...result, dt_s: twin.dt_s, status: manifest.status };
}
