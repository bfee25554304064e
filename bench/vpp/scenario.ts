/**
 * The glue between a scenario's `vpp:` section and a run (`gridloop simulate`, `gridloop attack`,
 * campaign workers): the bench composes the twin and vpp/, which may see only the twin's contract.
 * It builds the scenario's twin once to read its catalog, lets vpp/ bind the portfolio to it, and
 * hands the run the VPP controller (attached through TwinOptions.controllers, on the twin's clock,
 * so the run stays deterministic) and the trackers of the `vpp-*` assertions.
 */
import type { Controller } from '../../twin/control/contract.ts';
import type { ExternalAssertions } from '../../twin/scenario/assertions.ts';
import { readScenarioFile, type Scenario, ScenarioError } from '../../twin/scenario/load.ts';
import { buildScenarioTwin } from '../../twin/scenario/runner.ts';
import { PriceFileError } from '../../vpp/commercial.ts';
import { VppFileError } from '../../vpp/portfolio.ts';
import {
  type ScenarioVpp,
  type ScenarioVppInput,
  scenarioVpp,
  VppScenarioError,
  type VppSection,
} from '../../vpp/scenario.ts';

export interface ScenarioVppRun {
  vpp: ScenarioVpp;
  /** For RunOptions.controllers / runSecurityScenario: the VPP, made for this run. */
  controllers: () => readonly Controller[];
  assertions: ExternalAssertions;
}

/**
 * The scenario's VPP, ready for one run (undefined without a `vpp:` section). Throws ScenarioError
 * naming the file and line (the scenario's, or the portfolio file's) for a section that cannot be used.
 * `award`: the VPP's award in the run's P2P market, for a VPP that bids there (bench/vpp/market.ts).
 */
export async function scenarioVppRun(
  s: Scenario,
  options: { award?: ScenarioVppInput['award'] } = {},
): Promise<ScenarioVppRun | undefined> {
  if (!s.vpp) return undefined;
  const text = await readScenarioFile(s.file);
  const probe = await buildScenarioTwin(s, s.dt_s, { script: false });
  let vpp: ScenarioVpp;
  try {
    vpp = scenarioVpp(
      {
        section: s.vpp as unknown as VppSection,
        file: s.file,
        text,
        seed: s.seed,
        startHour: probe.config.startHour ?? 12,
        assertions: s.assertions,
        award: options.award,
      },
      probe.catalog(),
    );
  } catch (err) {
    if (err instanceof VppScenarioError) throw new ScenarioError(err.reason, err.file, err.line, err.path);
    if (err instanceof VppFileError)
      throw new ScenarioError(
        `vpp: ${err.member ? `member '${err.member}': ` : ''}${err.reason}`,
        err.file,
        err.line,
        err.file === s.file ? '/vpp/portfolio' : undefined,
      );
    if (err instanceof PriceFileError) throw new ScenarioError(`vpp: ${err.reason}`, err.file, err.line);
    throw err;
  }
  return { vpp, controllers: () => [vpp.controller], assertions: (a) => vpp.tracker(a) };
}
