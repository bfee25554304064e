import { describe, expect, it } from 'vitest';
import { derInfo, twoMicrogrids } from '../../../../market/test-catalog.ts';
import market from './market.ts';

/** Two microgrids joined by fid1; pv1 and a battery in mg1. */
const catalog = twoMicrogrids({
  dt_s: 0.01,
  ders: [
    derInfo({ id: 'pv1', technology: 'pv', microgrid: 'mg1' }),
    derInfo({
      id: 'bat1',
      technology: 'battery',
      microgrid: 'mg1',
      pmin_mw: -0.5,
      pmax_mw: 0.5,
      capacity_mwh: 1,
      dispatchable: true,
    }),
  ],
});

const build = (options: Record<string, unknown>) => market(options, { id: 'mkt', catalog });

describe('module: market (run-config options)', () => {
  it('builds the market with every FID claimed, the DERs it dispatches and its sampling period', async () => {
    const c = await build({
      interval_s: 60,
      gateClosure_s: 10,
      sample_s: 2,
      dispatch: ['bat1'],
      ledger: false,
    });
    expect(c.id).toBe('mkt');
    expect(c.period_s).toBe(2);
    expect(c.claims).toEqual([
      { kind: 'fid', id: 'fid1' },
      { kind: 'der', id: 'bat1' },
    ]);
  });

  it('refuses bad options with the option named', async () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ colour: 'red' }, /^mkt: unknown option 'colour' \(interval_s, /],
      [{ interval_s: -5 }, /^mkt: options\.interval_s must be a positive number of seconds$/],
      [{ interval_s: 60, gateClosure_s: 7 }, /^mkt: market: gateClosure_s 7 must divide interval_s 60$/],
      [{ pricing: 'auction' }, /^mkt: options\.pricing must be 'uniform' or 'pay-as-bid'$/],
      [{ retailPrice: 1.5 }, /^mkt: options\.retailPrice must be a whole number/],
      [{ fids: ['fid9'] }, /^mkt: options\.fids\[0\] 'fid9' is not a FID of the grid$/],
      [{ dispatch: 'bat1' }, /^mkt: options\.dispatch must be a list of DER ids$/],
      [
        { prosumers: { ada: ['pv9'] } },
        /^mkt: options\.prosumers\.ada\[0\] 'pv9' is not a market participant/,
      ],
      [
        { prosumers: { ada: ['pv1'], bob: ['pv1'] } },
        /^mkt: options\.prosumers\.bob\[0\] 'pv1' already belongs to ada$/,
      ],
      [{ ledger: 'yes' }, /^mkt: options\.ledger must be true, false or \{ authorities/],
      [{ ledger: { authorities: 2 } }, /^mkt: options\.ledger\.authorities must be a whole number ≥ 3$/],
      [{ ledger: { gas: 1 } }, /^mkt: options\.ledger\.gas is unknown/],
      [
        { gateClosure_s: 10, sample_s: 3 },
        /^mkt: market: sample_s 3 must divide the gate-closure time 10 s$/,
      ],
    ];
    for (const [options, message] of bad) {
      await expect(async () => build(options), JSON.stringify(options)).rejects.toThrow(message);
    }
  });
});
