import { type Grid, GridInputError } from './model.ts';

/** Locates element `index` of collection `kind` (e.g. 'branches') in its source file. */
export type ElementLocator = (kind: keyof Grid, index: number, field?: string) => { line?: number };

const noLines: ElementLocator = () => ({});

/**
 * Where a grid field may be infinite: only a generator's reactive limits, where ±Inf means "no
 * limit" (MATPOWER writes Inf there). Every other number must be finite.
 */
export function infinityAllowed(kind: string, field: string, value: number): boolean {
  return (
    kind === 'generators' &&
    ((field === 'qmin_mvar' && value === Number.NEGATIVE_INFINITY) ||
      (field === 'qmax_mvar' && value === Number.POSITIVE_INFINITY))
  );
}

/**
 * Ids that must be unique together: the twin looks elements up by id in these groups (a branch
 * and a switch are both breakers; a generator and a DER are both units).
 */
const ID_GROUPS: readonly (readonly (keyof Grid)[])[] = [
  ['buses'],
  ['branches', 'switches'],
  ['loads'],
  ['shunts'],
  ['generators', 'ders'],
  ['fids'],
  ['microgrids'],
];

const NOUN: Record<string, string> = {
  buses: 'bus',
  branches: 'branch',
  switches: 'switch',
  loads: 'load',
  shunts: 'shunt',
  generators: 'generator',
  ders: 'DER',
  fids: 'FID',
  microgrids: 'microgrid',
};

const ELEMENT_KINDS = [
  'buses',
  'branches',
  'switches',
  'loads',
  'shunts',
  'generators',
  'ders',
  'fids',
] as const;

/**
 * Checks a grid for what the solver cannot use or physics does not allow: duplicate ids, unknown
 * bus ids, non-finite numbers, negative resistance, zero-impedance branches, non-positive
 * ratings, limits the wrong way round, bad bases (docs/grid-format.md § Validation). Throws
 * GridInputError naming file, line and path.
 */
export function validateGrid(grid: Grid, file: string, locate: ElementLocator = noLines): void {
  const fail = (kind: keyof Grid, index: number, field: string | undefined, reason: string): never => {
    const path = field === undefined ? `/${kind}/${index}` : `/${kind}/${index}/${field}`;
    throw new GridInputError(reason, { file, line: locate(kind, index, field).line, path });
  };
  if (!Number.isFinite(grid.baseMVA) || grid.baseMVA <= 0) {
    throw new GridInputError(`baseMVA must be a positive finite number, got ${grid.baseMVA}`, {
      file,
      path: '/baseMVA',
    });
  }
  for (const kind of ELEMENT_KINDS) {
    grid[kind].forEach((element: object, index: number) => {
      for (const [field, value] of Object.entries(element)) {
        if (typeof value === 'number' && !Number.isFinite(value) && !infinityAllowed(kind, field, value)) {
          fail(kind, index, field, `${field} is ${value}; every number must be finite`);
        }
      }
      const params = (element as { params?: Record<string, unknown> }).params;
      for (const [name, value] of Object.entries(params ?? {})) {
        if (typeof value === 'number' && !Number.isFinite(value))
          fail(kind, index, 'params', `params.${name} is ${value}; every number must be finite`);
      }
    });
  }
  for (const group of ID_GROUPS) {
    const seen = new Map<string, string>();
    for (const kind of group) {
      (grid[kind] as readonly { id: string }[]).forEach((element, index) => {
        const first = seen.get(element.id);
        if (first !== undefined)
          fail(kind, index, 'id', `duplicate ${NOUN[kind]} id '${element.id}' (already used by ${first})`);
        seen.set(element.id, `${kind}[${index}]`);
      });
    }
  }
  const busIds = new Set<string>();
  grid.buses.forEach((bus, index) => {
    busIds.add(bus.id);
    if (!(bus.baseKV >= 0)) fail('buses', index, 'baseKV', `baseKV must be >= 0, got ${bus.baseKV}`);
    if (!(bus.vm_pu > 0)) fail('buses', index, 'vm_pu', `vm_pu must be > 0, got ${bus.vm_pu}`);
    if (!(bus.vmin_pu >= 0 && bus.vmin_pu <= bus.vmax_pu))
      fail('buses', index, 'vmin_pu', `need 0 <= vmin_pu <= vmax_pu, got ${bus.vmin_pu} and ${bus.vmax_pu}`);
  });
  const checkBus = (kind: keyof Grid, index: number, field: string, id: string) => {
    if (!busIds.has(id)) fail(kind, index, field, `unknown bus id '${id}'`);
  };
  grid.branches.forEach((branch, index) => {
    checkBus('branches', index, 'from', branch.from);
    checkBus('branches', index, 'to', branch.to);
    // Negative reactance is real (series capacitors, star points of three-winding transformers),
    // and so is a negative resistance in a transformer's star-equivalent leg (178 of them in
    // ACTIVSg10k). A line is a conductor: its resistance cannot be negative.
    if (branch.r_pu < 0 && branch.kind === 'line')
      fail('branches', index, 'r_pu', `line '${branch.id}' has negative resistance ${branch.r_pu} pu`);
    if (branch.r_pu === 0 && branch.x_pu === 0) {
      fail(
        'branches',
        index,
        'x_pu',
        `branch '${branch.id}' (${branch.from}-${branch.to}) has zero impedance; model it as a switch`,
      );
    }
    if (!(branch.tap > 0)) fail('branches', index, 'tap', `tap ratio must be > 0, got ${branch.tap}`);
    if (branch.rateA_mva < 0)
      fail('branches', index, 'rateA_mva', `rateA_mva must be >= 0 (0 = no rating), got ${branch.rateA_mva}`);
  });
  grid.switches.forEach((sw, index) => {
    checkBus('switches', index, 'from', sw.from);
    checkBus('switches', index, 'to', sw.to);
  });
  grid.loads.forEach((load, index) => {
    checkBus('loads', index, 'bus', load.bus);
  });
  grid.shunts.forEach((shunt, index) => {
    checkBus('shunts', index, 'bus', shunt.bus);
  });
  grid.generators.forEach((gen, index) => {
    checkBus('generators', index, 'bus', gen.bus);
    if (gen.participation < 0) fail('generators', index, 'participation', 'participation must be >= 0');
    if (!(gen.vset_pu > 0)) fail('generators', index, 'vset_pu', `vset_pu must be > 0, got ${gen.vset_pu}`);
    if (gen.qmin_mvar > gen.qmax_mvar)
      fail(
        'generators',
        index,
        'qmin_mvar',
        `qmin_mvar ${gen.qmin_mvar} is above qmax_mvar ${gen.qmax_mvar}`,
      );
    if (gen.pmin_mw > gen.pmax_mw)
      fail('generators', index, 'pmin_mw', `pmin_mw ${gen.pmin_mw} is above pmax_mw ${gen.pmax_mw}`);
  });
  grid.ders.forEach((der, index) => {
    checkBus('ders', index, 'bus', der.bus);
    if (der.participation < 0) fail('ders', index, 'participation', 'participation must be >= 0');
    if (!(der.rating_mva > 0))
      fail('ders', index, 'rating_mva', `rating_mva must be > 0, got ${der.rating_mva}`);
    if (!(der.vset_pu > 0)) fail('ders', index, 'vset_pu', `vset_pu must be > 0, got ${der.vset_pu}`);
    if (der.qmin_mvar > der.qmax_mvar)
      fail('ders', index, 'qmin_mvar', `qmin_mvar ${der.qmin_mvar} is above qmax_mvar ${der.qmax_mvar}`);
  });
  grid.fids.forEach((fid, index) => {
    checkBus('fids', index, 'busA', fid.busA);
    checkBus('fids', index, 'busB', fid.busB);
    if (!(fid.rating_mva > 0))
      fail('fids', index, 'rating_mva', `rating_mva must be > 0, got ${fid.rating_mva}`);
    if (!(fid.lossFraction >= 0 && fid.lossFraction < 1))
      fail('fids', index, 'lossFraction', `lossFraction must be in [0, 1), got ${fid.lossFraction}`);
  });
  const microgridIds = new Set(grid.microgrids.map((m) => m.id));
  grid.buses.forEach((bus, index) => {
    if (bus.microgrid !== undefined && !microgridIds.has(bus.microgrid)) {
      fail('buses', index, 'microgrid', `unknown microgrid '${bus.microgrid}'`);
    }
  });
  const switchIds = new Set(grid.switches.map((s) => s.id));
  grid.microgrids.forEach((mg, index) => {
    if (mg.pccSwitch !== undefined && !switchIds.has(mg.pccSwitch)) {
      fail('microgrids', index, 'pccSwitch', `unknown switch '${mg.pccSwitch}'`);
    }
  });
}
