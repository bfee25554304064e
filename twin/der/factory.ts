import type { Der, Generator } from '../grid/model.ts';
import { deriveSeed, Random } from '../random.ts';
import { GENSET_DEFAULTS } from './defaults.ts';
import { SynchronousGenset } from './genset.ts';
import { numberParam } from './params.ts';
import { DER_TECHNOLOGIES, type DerTechnology, findDerTechnology } from './technologies.ts';
import type { DerUnit } from './unit.ts';

/**
 * The technology that models a DER: the grid file's `technology`, or the finer variant named by
 * `params.model` (dual fuel, combustion turbine).
 */
export function derTechnologyOf(
  der: Der,
  technologies: readonly DerTechnology[] = DER_TECHNOLOGIES,
): DerTechnology {
  const model = der.params.model;
  const name = typeof model === 'string' ? model : der.technology;
  const technology = findDerTechnology(name, technologies);
  if (!technology) {
    const names = technologies.map((t) => t.name).join(', ');
    throw new TypeError(
      typeof model === 'string'
        ? `DER '${der.id}': params.model '${model}' is not one of ${names}`
        : `DER '${der.id}': technology '${name}' is not in the DER library (${names})`,
    );
  }
  return technology;
}

export interface UnitBuildOptions {
  f0_hz: number;
  seed: number;
  /** The technologies to build from. @default DER_TECHNOLOGIES */
  technologies?: readonly DerTechnology[];
}

/** Builds the simulation model of one DER from the grid file, with its technology's defaults. */
export function createDerUnit(der: Der, options: UnitBuildOptions): DerUnit {
  const technology = derTechnologyOf(der, options.technologies);
  const unit = technology.create(der, {
    f0_hz: options.f0_hz,
    random: new Random(deriveSeed(options.seed, der.id)),
    rating_mw: numberParam(der.params, 'rating_mw', der.rating_mva),
  });
  unit.inService = der.inService;
  if (typeof der.params.participation === 'number') unit.participation = der.params.participation;
  return unit;
}

/** A conventional generator that is not a slack (main-grid) source: a synchronous unit. */
export function createGeneratorUnit(gen: Generator, options: UnitBuildOptions): DerUnit {
  const d = GENSET_DEFAULTS['combustion-turbine'];
  const rating = Math.max(gen.pmax_mw, 1e-3);
  const unit = new SynchronousGenset(
    gen.id,
    'generator',
    {
      ...d,
      h_s: 4,
      ramp_pu_s: Number.POSITIVE_INFINITY,
      pmin_pu: Math.max(0, gen.pmin_mw / rating),
      rating_mw: rating,
      rating_mva: rating,
      initial_mw: gen.p_mw,
      vset_pu: gen.vset_pu,
      running: gen.inService,
    },
    options.f0_hz,
  );
  unit.inService = gen.inService;
  return unit;
}
