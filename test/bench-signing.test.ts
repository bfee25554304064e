/**
 * Signed firmware-protocol links with the C emulated board over a socat pseudo-terminal pair: the
 * board signs its frames and requires signed ones; the bench's FirmwareLink signs and verifies.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { FirmwareLink } from '../bench/devices/firmware-link.ts';
import { openPtyPair } from '../bench/devices/transport.ts';
import { startEmulatedBoard } from '../firmware-protocol/host/boards.ts';
import { budget } from './support/machine-speed.ts';

const KEY = new Uint8Array(32).map((_, i) => (i * 37 + 11) & 0xff);
const KEY_HEX = Buffer.from(KEY).toString('hex');
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const m = (step: number) => ({ step, t_s: step * 0.01, vm_pu: 1, va_deg: 0, f_hz: 49.9, rocof_hz_s: 0 });

describe('signed links with the C board', { timeout: budget(60_000) }, () => {
  const cleanups: (() => Promise<unknown>)[] = [];
  afterEach(async () => {
    for (const undo of cleanups.splice(0).reverse()) await undo().catch(() => {});
  });

  async function exchangeWith(keyHex: string) {
    const pair = await openPtyPair();
    cleanups.push(() => pair.stop());
    const board = await startEmulatedBoard('battery', { device: pair.b, key: KEY, requireSigned: true });
    cleanups.push(() => board.stop());
    const link = new FirmwareLink({ id: 'bess-hw', path: pair.a, signing: { keyHex, requireSigned: true } });
    cleanups.push(() => link.close());
    await link.open();
    for (let step = 1; step <= 30; step++) {
      link.exchange(m(step));
      await sleep(20);
    }
    return link;
  }

  it('the right key: the board answers and its signed frames are accepted', async () => {
    const link = await exchangeWith(KEY_HEX);
    expect(link.input().online).toBe(true);
    // 5 kW battery, 5 % droop: at 49.9 Hz it discharges 0.1/2.5 × 5000 = 200 W.
    expect(link.input().p_mw).toBeCloseTo(0.0002, 6);
    expect(link.stats().authErrors).toBe(0);
    expect(link.stats().rtt_us_p50).toBeGreaterThan(0);
  });

  it('a wrong key: nothing is accepted either way and the device stays offline', async () => {
    const wrong = Buffer.from(KEY.map((b) => b ^ 0xff)).toString('hex');
    const link = await exchangeWith(wrong);
    expect(link.input().online).toBe(false);
    expect(link.stats().framesRx).toBe(0);
    expect(link.stats().authErrors).toBeGreaterThan(0);
  });
});
