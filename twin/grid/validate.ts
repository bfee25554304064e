import { type Grid, GridInputError } from './model.ts';

/** Locates element `index` of collection `kind` (e.g. 'branches') in its source file. */
export type ElementLocator = (kind: keyof Grid, index: number, field?: string) => { line?: number };

const noLines: ElementLocator = () => ({});

/**
 * The one place an infinite number means something: a unit's reactive limit (MATPOWER's QMAX = Inf,
 * QMIN = -Inf: no limit on that side). NaN never does.
 */
function unlimited(kind: keyof Grid, field: string, value: number): boolean {
  if (kind !== 'generators' && kind !== 'ders') return false;
  return (
    (field === 'qmax_mvar' && value === Number.POSITIVE_INFINITY) ||
    (field === 'qmin_mvar' && value === Number.NEGATIVE_INFINITY)
  );
}

/**
 * Checks a grid for what the solver cannot use: duplicate or unknown bus ids, non-finite numbers,
 * zero-impedance branches, bad bases. Throws GridInputError naming file, line and path.
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
  const checkNumbers = (kind: keyof Grid, list: readonly object[]) => {
    list.forEach((element, index) => {
      for (const [field, value] of Object.entries(element)) {
        if (typeof value === 'number' && !Number.isFinite(value) && !unlimited(kind, field, value)) {
          fail(kind, index, field, `${field} is ${value}; every number must be finite`);
        }
      }
    });
  };
  const busIds = new Set<string>();
  grid.buses.forEach((bus, index) => {
    if (busIds.has(bus.id)) fail('buses', index, 'id', `duplicate bus id '${bus.id}'`);
    busIds.add(bus.id);
    if (!(bus.baseKV >= 0)) fail('buses', index, 'baseKV', `baseKV must be >= 0, got ${bus.baseKV}`);
  });
  const kinds = ['buses', 'branches', 'switches', 'loads', 'shunts', 'generators', 'ders', 'fids'] as const;
  for (const kind of kinds) checkNumbers(kind, grid[kind]);
  const checkBus = (kind: keyof Grid, index: number, field: string, id: string) => {
    if (!busIds.has(id)) fail(kind, index, field, `unknown bus id '${id}'`);
  };
  grid.branches.forEach((branch, index) => {
    checkBus('branches', index, 'from', branch.from);
    checkBus('branches', index, 'to', branch.to);
    if (branch.r_pu === 0 && branch.x_pu === 0) {
      fail(
        'branches',
        index,
        'x_pu',
        `branch '${branch.id}' (${branch.from}-${branch.to}) has zero impedance; model it as a switch`,
      );
    }
    if (!(branch.tap > 0)) fail('branches', index, 'tap', `tap ratio must be > 0, got ${branch.tap}`);
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
  });
  grid.ders.forEach((der, index) => {
    checkBus('ders', index, 'bus', der.bus);
    if (der.participation < 0) fail('ders', index, 'participation', 'participation must be >= 0');
  });
  grid.fids.forEach((fid, index) => {
    checkBus('fids', index, 'busA', fid.busA);
    checkBus('fids', index, 'busB', fid.busB);
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
