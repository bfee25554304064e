/**
 * `gridloop replay` of a run folder: the run's twin built again the way its runner built it, with
 * what the runner attached to it (the scenario's VPP, its P2P market and the VPP bidding there, the
 * attack engine), re-driven by the run's replay log. It composes the runners (bench/runtime,
 * bench/market, twin/attacks) and the recording format (bench/recording), so it sits above both.
 */
import type { TwinState } from '../../twin/api.ts';
import { loadSecurityScenario, SecurityHarness } from '../../twin/attacks/security.ts';
import type { Controller } from '../../twin/control/contract.ts';
import { loadScenario, type Scenario } from '../../twin/scenario/load.ts';
import { buildScenarioTwin } from '../../twin/scenario/runner.ts';
import type { Twin, TwinAction } from '../../twin/twin.ts';
import { marketDayOf } from '../market/market-day.ts';
import { type ManifestInput, RunFolderError, type RunStatus, readManifest } from '../recording/manifest.ts';
import {
  type ReplayControl,
  type ReplayResult,
  readReplayLog,
  replayRecords,
} from '../recording/replay-log.ts';
import type { DeviceLinkConfig } from '../runtime/messages.ts';
import { createRunTwin } from '../runtime/twin-factory.ts';
import { scenarioVppRun } from '../vpp/scenario.ts';

type LoopSection = NonNullable<ManifestInput['loop']>;

/**
 * The twin a run stepped, built again the way its runner built it, and what the runner did to
 * it after each step besides stepping it (the attack engine and detectors of `gridloop attack`).
 */
async function rebuildTwin(
  loop: LoopSection,
): Promise<{ twin: Twin; afterStep?: (state: TwinState) => void; market?: () => ReplayedMarket }> {
  const runner = loop.runner ?? 'loop';
  if (runner === 'loop') {
    // The same construction as the loop process (scenario twins included).
    return { twin: (await createRunTwin(loop.twin, loop.devices as unknown as DeviceLinkConfig[])).twin };
  }
  // `simulate` and `attack` build the twin with the scenario's script applied at build time
  // (initial state, events scheduled), as runScenario and runSecurityScenario do.
  if (!loop.twin.scenario) throw new Error(`$.loop.twin.scenario is missing for a '${runner}' run`);
  if (runner === 'simulate') {
    const scenario = { ...(await loadScenario(loop.twin.scenario)), seed: loop.twin.seed };
    const attached = await scenarioControllers(scenario, loop.twin.dt_s);
    const twin = await buildScenarioTwin(scenario, loop.twin.dt_s, { controllers: attached.controllers });
    return { twin, afterStep: attached.afterStep, market: attached.market };
  }
  const scenario = { ...(await loadSecurityScenario(loop.twin.scenario)), seed: loop.twin.seed };
  const attached = await scenarioControllers(scenario, loop.twin.dt_s);
  const twin = await buildScenarioTwin(scenario, loop.twin.dt_s, { controllers: attached.controllers });
  const harness = new SecurityHarness(twin, scenario.security);
  return {
    twin,
    // As runSecurityScenario: the harness first, then the run's own onStep (the market's).
    afterStep: (state) => {
      harness.afterStep(state);
      attached.afterStep?.(state);
    },
    market: attached.market,
  };
}

/** What the replay says about the market it attached again. */
export interface ReplayedMarket {
  /** Intervals the replayed market cleared. */
  intervals: number;
  /** The VPP that bid in it as one participant (market.vpp), when there was one. */
  vpp?: string;
  /**
   * The run's chain is not re-run by the replay (the settlement does not act on the twin):
   * `gridloop ledger verify` re-executes it from genesis.
   */
  ledger: 'not replayed';
}

/**
 * The controllers the scenario's runner attached, made again in the same order (simulateRecorded,
 * attackRecorded: the VPP, then the market): the scenario's VPP runs in-line on the twin's clock, and
 * the market's clearing is pure and deterministic, its agents (and the VPP's bid) reading only the
 * twin's states before each gate, so attached again they decide again the same. `afterStep` is what
 * the market sees of each state (the VPP's measurements for its forecasts).
 */
async function scenarioControllers(
  scenario: Scenario,
  dt_s: number,
): Promise<{
  controllers?: () => readonly Controller[];
  afterStep?: (state: TwinState) => void;
  market?: () => ReplayedMarket;
}> {
  const market = await marketDayOf(scenario, dt_s);
  // A VPP that bids in the market follows its award: the market day built it with its target.
  const vpp = market?.vpp?.run ?? (await scenarioVppRun(scenario));
  const controllers = [...(vpp?.controllers() ?? []), ...(market ? [market.controller] : [])];
  return {
    controllers: controllers.length > 0 ? () => controllers : undefined,
    afterStep: market?.onStep,
    market:
      market &&
      (() => ({
        intervals: market.controller.history.length,
        ...(market.vpp ? { vpp: market.vpp.participant.options.id } : {}),
        ledger: 'not replayed',
      })),
  };
}

/**
 * Replays a recorded run folder: rebuilds the twin from the manifest's `loop` section (grid,
 * seed, step, device mapping, schedule, runner), re-applies the step-stamped device inputs and
 * commands of replay.jsonl.gz, and compares output hashes with the recorded checkpoints.
 */
export async function replayRun(
  dir: string,
  control: ReplayControl = {},
): Promise<ReplayResult & { dt_s: number; status: RunStatus; market?: ReplayedMarket }> {
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
  const { twin, afterStep, market } = rebuilt;
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
  return { ...result, dt_s: twin.dt_s, status: manifest.status, ...(market ? { market: market() } : {}) };
}
