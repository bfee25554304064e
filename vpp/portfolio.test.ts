import { describe, expect, it } from 'vitest';
import type { TwinCatalog } from '../twin/control/contract.ts';
import { aggregateFlexibility, availabilityAt, flexibilityOverTime, memberLimits } from './aggregate.ts';
import { bindPortfolio, parsePortfolio, VppFileError } from './portfolio.ts';

/** A small hand-made catalog: a genset, a PV unit, a battery and two loads in two microgrids. */
const catalog: TwinCatalog = {
  f0_hz: 50,
  dt_s: 0.01,
  busIds: ['1', '2', '3'],
  microgrids: [
    { id: 'A', buses: ['1', '2'] },
    { id: 'B', buses: ['3'] },
  ],
  ders: [
    {
      id: 'gen',
      technology: 'gas-genset',
      bus: '1',
      microgrid: 'A',
      rating_mva: 1.25,
      pmin_mw: 0,
      pmax_mw: 1,
      cost_per_mwh: 120,
      dispatchable: true,
      hardware: false,
    },
    {
      id: 'pv',
      technology: 'pv',
      bus: '2',
      microgrid: 'A',
      rating_mva: 0.55,
      pmin_mw: 0,
      pmax_mw: 0.5,
      cost_per_mwh: 0,
      dispatchable: false,
      hardware: false,
    },
    {
      id: 'bat',
      technology: 'battery',
      bus: '3',
      microgrid: 'B',
      rating_mva: 0.5,
      pmin_mw: -0.5,
      pmax_mw: 0.5,
      capacity_mwh: 1,
      cost_per_mwh: 20,
      dispatchable: true,
      hardware: true,
    },
  ],
  fids: [],
  loads: [
    { id: 'ld', bus: '2', microgrid: 'A', controllable: true },
    { id: 'crit', bus: '3', microgrid: 'B', controllable: false },
  ],
  breakers: [],
};

const header = 'format: gridloop-vpp/1\nvpps:\n';

function errorOf(text: string): VppFileError {
  try {
    bindPortfolio(parsePortfolio(text, 'p.yaml'), catalog);
  } catch (err) {
    if (err instanceof VppFileError) return err;
    throw err;
  }
  throw new Error('no error');
}

describe('portfolio file', () => {
  it('binds members to the catalog: limits, shares, costs, storage, hardware slot', () => {
    const text = `${header}  - id: v
    operators: [o1, o2]
    members:
      - { der: gen, operator: o1, share: 0.5, cost: { a_per_mw2h: 10, b_per_mwh: 100 }, ramp_mw_per_min: 6 }
      - { der: bat, operator: o2 }
      - { load: ld, operator: o2, load_mw: 0.4, pmax_mw: 0.1 }
`;
    const [vpp] = bindPortfolio(parsePortfolio(text, 'p.yaml'), catalog);
    const [gen, bat, ld] = vpp!.members;
    expect(vpp!.structure).toBe('central');
    expect(vpp!.period_s).toBe(5);
    expect(gen).toMatchObject({ pmin_mw: 0, pmax_mw: 0.5, a: 10, b: 100, ramp_mw_s: 0.05, operator: 'o1' });
    expect(bat).toMatchObject({
      pmin_mw: -0.5,
      pmax_mw: 0.5,
      capacity_mwh: 1,
      b: 20,
      hardware: true,
      soc_min: 0.1,
    });
    expect(ld).toMatchObject({ kind: 'load', pmin_mw: 0, pmax_mw: 0.1, load_mw: 0.4 });
  });

  it('an unknown member: file, line and member named', () => {
    const e = errorOf(`${header}  - id: v\n    members:\n      - { der: gen }\n      - { der: ghost }\n`);
    expect(e.message).toMatch(/^p\.yaml:6 \(member 'ghost'\): unknown DER/);
  });

  it('a member in two VPPs beyond 100 %: the line of the member that tips it over', () => {
    const e = errorOf(
      `${header}  - id: v1\n    members:\n      - { der: gen, share: 0.6 }\n  - id: v2\n    members:\n      - { der: pv }\n      - { der: gen, share: 0.5 }\n`,
    );
    expect(e.line).toBe(9);
    expect(e.member).toBe('gen');
    expect(e.message).toMatch(/shares add up to 110\.0 % \(> 100 %\) with vpp 'v1'/);
  });

  it('a share above 1 in one VPP, an unknown field, both der and load, a listed-twice member', () => {
    expect(errorOf(`${header}  - id: v\n    members:\n      - { der: gen, share: 1.5 }\n`).message).toMatch(
      /^p\.yaml:5 \(member 'gen'\): \/vpps\/0\/members\/0\/share: must be <= 1/,
    );
    expect(errorOf(`${header}  - id: v\n    members:\n      - { der: gen, shair: 0.5 }\n`).message).toMatch(
      /p\.yaml:5 \(member 'gen'\): .*unknown field 'shair'/,
    );
    expect(errorOf(`${header}  - id: v\n    members:\n      - { der: gen, load: ld }\n`).message).toMatch(
      /exactly one of 'der' or 'load'/,
    );
    expect(
      errorOf(`${header}  - id: v\n    members:\n      - { der: gen }\n      - { der: gen }\n`).message,
    ).toMatch(/p\.yaml:6 \(member 'gen'\): listed twice/);
  });

  it('a critical load, a load without load_mw, limits beyond the unit, an unlisted operator', () => {
    expect(errorOf(`${header}  - id: v\n    members:\n      - { load: crit, load_mw: 1 }\n`).message).toMatch(
      /not controllable/,
    );
    expect(errorOf(`${header}  - id: v\n    members:\n      - { load: ld }\n`).message).toMatch(
      /needs 'load_mw'/,
    );
    expect(errorOf(`${header}  - id: v\n    members:\n      - { der: gen, pmax_mw: 2 }\n`).message).toMatch(
      /limits \[0, 2\] MW must lie within the unit's \[0, 1\] MW/,
    );
    expect(
      errorOf(`${header}  - id: v\n    operators: [a]\n    members:\n      - { der: gen, operator: b }\n`)
        .message,
    ).toMatch(/operator 'b' is not among/);
  });

  it('YAML syntax and non-finite numbers: line named, nothing thrown but VppFileError', () => {
    expect(errorOf(`${header}  - id: v\n    members: [\n`).line).toBeGreaterThan(0);
    expect(
      errorOf(`${header}  - id: v\n    members:\n      - { der: gen, pmax_mw: .nan }\n`).message,
    ).toMatch(/p\.yaml:5 \(member 'gen'\): pmax_mw must be a finite number/);
  });
});

describe('aggregate flexibility', () => {
  const text = `${header}  - id: v
    members:
      - { der: gen, ramp_mw_per_min: 3 }
      - { der: pv, availability: [0,0,0,0,0,0,0,0,0,0,0,0,0.8,0.6,0,0,0,0,0,0,0,0,0,0] }
      - { der: bat, soc_min: 0.2, soc_max: 0.9 }
`;
  const [vpp] = bindPortfolio(parsePortfolio(text, 'p.yaml'), catalog);
  const members = vpp!.members;

  it('P/Q bounds, ramps and storage energy add up as computed by hand', () => {
    // At 12:30 the PV profile is halfway between 0.8 and 0.6 → 0.7·0.5 = 0.35 MW available.
    expect(availabilityAt(members[1]!.availability, 12.5)).toBeCloseTo(0.7, 12);
    const statuses = new Map([['bat', { online: true, soc: 0.5 }]]);
    const f = aggregateFlexibility(members, 12.5, statuses, 0.25);
    // Battery over 15 min: discharge ≤ (0.5−0.2)·1/0.25 = 1.2 → rating 0.5; charge ≤ (0.9−0.5)/0.25 = 1.6 → 0.5.
    expect(f.pmax_mw).toBeCloseTo(1 + 0.35 + 0.5, 12);
    expect(f.pmin_mw).toBeCloseTo(-0.5, 12);
    expect(f.qmax_mvar).toBeCloseTo(1.25 + 0.55 + 0.5, 12);
    expect(f.storedEnergy_mwh).toBeCloseTo(0.3, 12);
    expect(f.storageRoom_mwh).toBeCloseTo(0.4, 12);
    // Ramp: only the genset declares one (3 MW/min); the others are unlimited.
    expect(f.rampUp_mw_s).toBe(Number.POSITIVE_INFINITY);
    expect(f.membersOnline).toBe(3);
  });

  it('a nearly empty battery limits discharge over the interval; an offline member counts zero', () => {
    const lim = memberLimits(members[2]!, 0, { online: true, soc: 0.25 }, 0.25);
    expect(lim.pmax_mw).toBeCloseTo(0.2, 12); // (0.25−0.2)·1 MWh / 0.25 h
    const f = aggregateFlexibility(members, 3, new Map([['gen', { online: false }]]), 0.25);
    expect(f.pmax_mw).toBeCloseTo(0 + 0 + 0.5, 12);
    expect(f.membersOnline).toBe(2);
  });

  it('over time: the PV availability follows its profile through the day', () => {
    const series = flexibilityOverTime(members, 11, 8, 0.25);
    expect(series.map((f) => f.pmax_mw - 1.5)).toEqual(
      [0, 0.1, 0.2, 0.3, 0.4, 0.375, 0.35, 0.325].map((x) => expect.closeTo(x, 12)),
    );
  });
});
