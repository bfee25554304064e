/**
 * Command spoofing on a real serial link: an attacker on the line writes a forged SETPOINT (it has
 * no key) to the C emulated battery board over a pseudo-terminal. An unsigned board obeys it; a
 * board that requires signed frames ignores it and keeps following the bench.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { AttackedTransport } from '../bench/attacks/link-attack.ts';
import { FirmwareLink } from '../bench/devices/firmware-link.ts';
import { openPtyPair, SerialTransport } from '../bench/devices/transport.ts';
import { startEmulatedBoard } from '../firmware-protocol/host/boards.ts';
import { encodeFrame, OperatingMode, SetpointField } from '../firmware-protocol/ts/index.ts';
import { budget } from './support/machine-speed.ts';

const KEY = new Uint8Array(32).map((_, i) => (i * 13 + 5) & 0xff);
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const m = (step: number) => ({ step, t_s: step * 0.01, vm_pu: 1, va_deg: 0, f_hz: 50, rocof_hz_s: 0 });
const forged = encodeFrame(
  {
    type: 'SETPOINT',
    fields: SetpointField.ACTIVE_POWER | SetpointField.REACTIVE_POWER | SetpointField.MODE,
    mode: OperatingMode.GRID_FOLLOWING,
    enabledFunctions: 0,
    activePowerW: 3000,
    reactivePowerVar: 0,
    activePowerMaxW: 0,
    activePowerMinW: 0,
    reactivePowerMaxVar: 0,
  },
  { seq: 4242, deviceId: 1 },
);

describe('spoofed set-points on a pty link with the C board', { timeout: budget(60_000) }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const undo of cleanups.splice(0).reverse()) await undo().catch(() => {});
  });

  async function spoof(signed: boolean): Promise<{ before: number; after: number }> {
    const pair = await openPtyPair();
    cleanups.push(() => pair.stop());
    const board = await startEmulatedBoard('battery', {
      device: pair.b,
      ...(signed ? { key: KEY, requireSigned: true } : {}),
    });
    cleanups.push(() => board.stop());
    const mitm = new AttackedTransport(new SerialTransport({ path: pair.a, baudRate: 921600 }));
    const link = new FirmwareLink(
      {
        id: 'bess-hw',
        path: pair.a,
        ...(signed ? { signing: { keyHex: Buffer.from(KEY).toString('hex'), requireSigned: true } } : {}),
      },
      { transport: () => mitm },
    );
    cleanups.push(() => link.close());
    await link.open();
    let step = 0;
    const exchange = async (n: number) => {
      for (let i = 0; i < n; i++) {
        link.exchange(m(++step));
        await sleep(15);
      }
    };
    await exchange(20);
    expect(link.input().online).toBe(true);
    const before = link.input().p_mw;
    await mitm.inject(forged);
    await exchange(20);
    return { before, after: link.input().p_mw };
  }

  it('an unsigned board follows the forged 3 kW set-point', async () => {
    const { before, after } = await spoof(false);
    expect(Math.abs(before)).toBeLessThan(1e-4);
    expect(after).toBeCloseTo(0.003, 4);
  });

  it('a board requiring signed frames ignores it', async () => {
    const { before, after } = await spoof(true);
    expect(Math.abs(before)).toBeLessThan(1e-4);
    expect(Math.abs(after)).toBeLessThan(1e-4);
  });
});
