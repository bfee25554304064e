import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { twinFromFiles } from '../twin.ts';
import { enableLiveAttacks } from './live.ts';

const grid = join(import.meta.dirname, '../../grids/demo-33bw-microgrids.yaml');

describe('live attacks through Twin.command', () => {
  it('are an add-on: a twin without them refuses the command and names the fix', async () => {
    const twin = await twinFromFiles({ grid, seed: 1, dt_s: 0.01 });
    const start = {
      kind: 'attack',
      action: 'start',
      attack: { kind: 'spoof', target: 'bess-hw.vm_pu', value: 0.5 },
    } as const;
    expect(() => twin.command(start)).toThrow(/live attacks are not enabled on this twin/);
    expect(enableLiveAttacks(twin)).toBe(enableLiveAttacks(twin));
    expect(twin.command(start).kind).toBe('attack-start');
  });

  it('a bias on the frequency a board receives, for 0.5 s, then gone; events label it', async () => {
    const twin = await twinFromFiles({ grid, seed: 1, dt_s: 0.01 });
    enableLiveAttacks(twin);
    for (let k = 0; k < 10; k++) twin.step([]);
    const clean = () => twin.state.islands.find((i) => i.buses.includes('18'))!.f_hz;
    const start = twin.command({
      kind: 'attack',
      action: 'start',
      id: 'b1',
      attack: { kind: 'bias', target: 'bess-hw.f_hz', bias: 0.5, duration_s: 0.5 },
    });
    expect(start).toMatchObject({ kind: 'attack-start', target: 'b1' });
    twin.step([]);
    expect(twin.measurementFor('bess-hw').f_hz - clean()).toBeCloseTo(0.5, 9);
    for (let k = 0; k < 60; k++) twin.step([]);
    expect(twin.measurementFor('bess-hw').f_hz - clean()).toBeCloseTo(0, 9);
  });

  it('stop ends an open-ended attack; bad commands are refused with a reason', async () => {
    const twin = await twinFromFiles({ grid, seed: 1, dt_s: 0.01 });
    enableLiveAttacks(twin);
    twin.command({
      kind: 'attack',
      action: 'start',
      id: 's',
      attack: { kind: 'spoof', target: 'bess-hw.vm_pu', value: 0.5 },
    });
    twin.step([]);
    expect(twin.measurementFor('bess-hw').vm_pu).toBe(0.5);
    expect(twin.command({ kind: 'attack', action: 'stop', id: 's' }).kind).toBe('attack-stop');
    twin.step([]);
    expect(twin.measurementFor('bess-hw').vm_pu).not.toBe(0.5);
    expect(() => twin.command({ kind: 'attack', action: 'stop', id: 's' })).toThrow(/no running attack 's'/);
    expect(() =>
      twin.command({
        kind: 'attack',
        action: 'start',
        attack: { kind: 'bias', target: 'nope.f_hz', bias: 1 },
      }),
    ).toThrow(/unknown attack target channel 'nope.f_hz'/);
    expect(() =>
      twin.command({ kind: 'attack', action: 'start', attack: { kind: 'zap', target: 'bess-hw.f_hz' } }),
    ).toThrow(/unknown attack kind 'zap'/);
    expect(() =>
      twin.command({ kind: 'attack', action: 'start', attack: { kind: 'bias', target: 'bess-hw.f_hz' } }),
    ).toThrow(/needs a number 'bias'/);
  });
});
