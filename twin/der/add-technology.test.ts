/**
 * Follows docs/twin.md, "Add a DER technology", with a toy technology: a model class, defaults, a
 * `params` schema fragment and a diagram symbol in one registry entry, then a grid file that uses it
 * and a twin that runs it. The output is checked against the closed form of a first-order lag.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GridInputError } from '../grid/model.ts';
import { parseGridYaml } from '../grid/yaml.ts';
import { Ieee1547Protection } from '../ieee1547/functions.ts';
import { Twin } from '../twin.ts';
import { ieee1547For, numberParam } from './params.ts';
import { DER_TECHNOLOGIES, type DerTechnology, derGlyph, gridSchemaWith } from './technologies.ts';
import type { UnitContext } from './unit.ts';
import { DerUnit } from './unit.ts';

// 1. The model: a source whose output follows its set-point through a first-order lag.
class LaggedSource extends DerUnit {
  private setpoint_mw: number;
  constructor(
    id: string,
    rating_mva: number,
    private readonly tau_s: number,
    setpoint_mw: number,
  ) {
    super(id, 'toy-lagged-source', 'grid-following', rating_mva);
    this.setpoint_mw = setpoint_mw;
    this.dispatchable = true;
  }
  get reference_mw(): number {
    return this.setpoint_mw;
  }
  setReference(p_mw: number): void {
    this.setpoint_mw = p_mw;
  }
  get pmax_mw(): number {
    return this.rating_mva;
  }
  get pmin_mw(): number {
    return 0;
  }
  advance(_ctx: UnitContext, dt_s: number): void {
    this.pDrive_mw = this.setpoint_mw + (this.pDrive_mw - this.setpoint_mw) * Math.exp(-dt_s / this.tau_s);
    this.q_mvar = 0;
  }
}

// 2. Its defaults, 3. its registry entry (schema fragment, diagram symbol, how it is built).
const TOY_DEFAULTS = { tau_s: 0.5, setpoint_mw: 0.1 };
const TOY: DerTechnology = {
  name: 'toy-lagged-source',
  glyph: '◇',
  defaults: TOY_DEFAULTS,
  params: {
    tau_s: { type: 'number', description: 'Response time constant, s.', exclusiveMinimum: 0 },
    setpoint_mw: { type: 'number', description: 'Initial set-point, MW.', minimum: 0 },
  },
  create(der, { f0_hz }) {
    const unit = new LaggedSource(
      der.id,
      der.rating_mva,
      numberParam(der.params, 'tau_s', TOY_DEFAULTS.tau_s),
      numberParam(der.params, 'setpoint_mw', TOY_DEFAULTS.setpoint_mw),
    );
    unit.protection = new Ieee1547Protection(ieee1547For(der, false), f0_hz);
    return unit;
  },
};
const TECHNOLOGIES = [...DER_TECHNOLOGIES, TOY];

const gridWithToy = (params: string): string => `
format: gridloop-grid/1
baseMVA: 10
frequency_hz: 50
buses:
  - { id: sub, kind: slack, baseKV: 12.66 }
  - { id: a, baseKV: 12.66 }
branches:
  - { id: feeder, from: sub, to: a, r_ohm: 0.3, x_ohm: 0.3 }
loads:
  - { id: house, bus: a, p_mw: 0.5, q_mvar: 0.1 }
generators:
  - { id: utility, bus: sub, vset_pu: 1 }
ders:
  - id: toy1
    bus: a
    technology: toy-lagged-source
    rating_mva: 1
    params: ${params}
`;

describe('adding a DER technology (docs/twin.md)', () => {
  it('a grid file using the new technology validates against the schema generated with it', () => {
    const schema = gridSchemaWith(TECHNOLOGIES);
    const { grid } = parseGridYaml(gridWithToy('{ tau_s: 0.2, setpoint_mw: 0.4 }'), 'toy.yaml', { schema });
    expect(grid.ders[0].technology).toBe('toy-lagged-source');
    // Its params schema applies: an unknown key is an error naming the file, line and JSON path.
    const refused = (() => {
      try {
        parseGridYaml(gridWithToy('{ tau: 0.2 }'), 'toy.yaml', { schema });
      } catch (err) {
        return err;
      }
    })();
    expect(refused).toBeInstanceOf(GridInputError);
    expect(String(refused)).toMatch(/toy\.yaml:\d+ \(at \/ders\/0\/params\/tau\): unknown field 'tau'/);
    // Without it registered, the published schema refuses the technology.
    expect(() => parseGridYaml(gridWithToy('{}'), 'toy.yaml')).toThrow(/technology.*must be one of/s);
  });

  it('runs in a twin: its output follows the closed form P(t) = P_set (1 - e^(-t/tau))', () => {
    const tau_s = 0.2;
    const setpoint_mw = 0.4;
    const { grid } = parseGridYaml(
      gridWithToy(`{ tau_s: ${tau_s}, setpoint_mw: ${setpoint_mw} }`),
      'toy.yaml',
      {
        schema: gridSchemaWith(TECHNOLOGIES),
      },
    );
    const twin = new Twin(grid, { derTechnologies: TECHNOLOGIES, dt_s: 0.01 });
    let state = twin.step([]);
    while (state.t_s < tau_s - 1e-9) state = twin.step([]);
    expect(state.devices.toy1.online).toBe(true);
    const expected = setpoint_mw * (1 - Math.exp(-state.t_s / tau_s));
    expect(state.devices.toy1.p_mw).toBeCloseTo(expected, 4);
    expect(expected).toBeCloseTo(setpoint_mw * (1 - Math.exp(-1)), 4);
    for (let i = 0; i < 200; i++) state = twin.step([]);
    expect(state.devices.toy1.p_mw).toBeCloseTo(setpoint_mw, 4);
  });

  it('the twin refuses a technology it was not given, naming the DER', () => {
    const { grid } = parseGridYaml(gridWithToy('{}'), 'toy.yaml', { schema: gridSchemaWith(TECHNOLOGIES) });
    expect(() => new Twin(grid)).toThrow(
      /DER 'toy1': technology 'toy-lagged-source' is not in the DER library/,
    );
  });

  it('its diagram symbol is the registry entry’s', () => {
    expect(derGlyph('toy-lagged-source', TECHNOLOGIES)).toBe('◇');
    expect(derGlyph('toy-lagged-source')).toBe('~');
  });

  it('docs/twin.md describes the steps this test takes', () => {
    const doc = readFileSync(new URL('../../docs/twin.md', import.meta.url), 'utf8');
    const section = doc.slice(doc.indexOf('## Add a DER technology'));
    expect(section.length).toBeGreaterThan(100);
    for (const step of [
      'DerUnit',
      'DER_TECHNOLOGIES',
      'glyph',
      'params',
      'npm run schema:grid',
      'gridSchemaWith',
      'derTechnologies',
    ]) {
      expect(section).toContain(step);
    }
  });
});
