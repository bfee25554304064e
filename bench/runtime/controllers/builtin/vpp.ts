/**
 * `module: vpp`: a virtual power plant of a portfolio file (docs/vpp.md, "On the live bench"), e.g.
 *
 * ```yaml
 * controllers:
 *   - module: vpp
 *     id: vpp
 *     options: { portfolio: vpp/portfolios/demo-33bw.yaml, target: [[0, 2.0], [60, 2.5]] }
 * ```
 *
 * Options: `portfolio` (file; relative to the working directory), `vpp` (its id; @default the
 * file's first), `target` (MW, a number or `[[t_s, p_mw], …]` steps in twin time), `period_s`
 * (overrides the portfolio's), `structure` (`central` | `admm` | `consensus`), `startHour` (hour of
 * day at t = 0, @default 12), `network: true` (TVPP over the FIDs, solved with HiGHS).
 */
import { resolve } from 'node:path';
import { loadSolver } from '../../../../vpp/central.ts';
import { VppController } from '../../../../vpp/controller.ts';
import { bindPortfolio, type ControlStructure, loadPortfolio } from '../../../../vpp/portfolio.ts';
import type { ControllerFactory } from '../spec.ts';

const STRUCTURES: readonly ControlStructure[] = ['central', 'admm', 'consensus'];
const KNOWN = ['portfolio', 'vpp', 'target', 'period_s', 'structure', 'startHour', 'network'];

/** The target as a function of twin time: a constant or steps `[[t_s, p_mw], …]` (increasing t_s). */
export function targetOf(value: unknown, id: string): (t_s: number) => number {
  if (typeof value === 'number' && Number.isFinite(value)) return () => value;
  if (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every(
      (p, i) =>
        Array.isArray(p) &&
        p.length === 2 &&
        p.every((x) => typeof x === 'number' && Number.isFinite(x)) &&
        (i === 0 || p[0] > (value[i - 1] as number[])[0]!),
    )
  ) {
    const steps = value as [number, number][];
    return (t_s) => {
      let p = steps[0]![1];
      for (const [t, mw] of steps) if (t_s + 1e-9 >= t) p = mw;
      return p;
    };
  }
  throw new TypeError(`${id}: options.target must be MW or [[t_s, p_mw], …] with increasing times`);
}

const vpp: ControllerFactory = async (options, { id, catalog }) => {
  for (const key of Object.keys(options))
    if (!KNOWN.includes(key)) throw new TypeError(`${id}: unknown option '${key}' (${KNOWN.join(', ')})`);
  if (typeof options.portfolio !== 'string' || options.portfolio === '')
    throw new TypeError(`${id}: options.portfolio must be a portfolio file (docs/vpp.md)`);
  const bound = bindPortfolio(loadPortfolio(resolve(options.portfolio)), catalog);
  const chosen = options.vpp === undefined ? bound[0] : bound.find((v) => v.id === options.vpp);
  if (!chosen)
    throw new TypeError(
      `${id}: options.vpp '${String(options.vpp)}' is not in ${options.portfolio} (${bound.map((v) => v.id).join(', ')})`,
    );
  const period = options.period_s;
  if (period !== undefined && !(typeof period === 'number' && period > 0 && Number.isFinite(period)))
    throw new TypeError(`${id}: options.period_s must be a positive number of seconds`);
  const structure = options.structure;
  if (structure !== undefined && !STRUCTURES.includes(structure as ControlStructure))
    throw new TypeError(`${id}: options.structure must be one of ${STRUCTURES.join(', ')}`);
  const startHour = options.startHour;
  if (startHour !== undefined && !(typeof startHour === 'number' && startHour >= 0 && startHour < 24))
    throw new TypeError(`${id}: options.startHour must be an hour of day within 0…24`);
  if (options.network !== undefined && typeof options.network !== 'boolean')
    throw new TypeError(`${id}: options.network must be true or false`);
  return new VppController({
    vpp: { ...chosen, period_s: (period as number | undefined) ?? chosen.period_s },
    target: targetOf(options.target, id),
    ...(structure === undefined ? {} : { structure: structure as ControlStructure }),
    ...(startHour === undefined ? {} : { startHour: startHour as number }),
    ...(options.network ? { network: { highs: await loadSolver(), catalog } } : {}),
  });
};
export default vpp;
