import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { listSerialPorts, scanDev } from './port-list.ts';

const root = mkdtempSync(join(tmpdir(), 'gridloop-dev-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('serial port scan', () => {
  it('finds USB-serial, ACM, UART and pty nodes and attaches by-id names', () => {
    for (const name of ['ttyUSB0', 'ttyACM1', 'ttyS0', 'tty0', 'null']) writeFileSync(join(root, name), '');
    mkdirSync(join(root, 'pts'));
    writeFileSync(join(root, 'pts', '3'), '');
    writeFileSync(join(root, 'pts', 'ptmx'), '');
    mkdirSync(join(root, 'serial', 'by-id'), { recursive: true });
    symlinkSync('../../ttyACM1', join(root, 'serial', 'by-id', 'usb-gridloop_board_0001-if00'));
    symlinkSync('../../ttyGONE', join(root, 'serial', 'by-id', 'usb-dangling'));
    const ports = scanDev(root);
    expect(ports.map((p) => [p.path.slice(root.length), p.kind])).toEqual([
      ['/pts/3', 'pty'],
      ['/ttyACM1', 'usb-acm'],
      ['/ttyS0', 'uart'],
      ['/ttyUSB0', 'usb-serial'],
    ]);
    expect(ports[1].byId).toMatch(/usb-gridloop_board_0001-if00$/);
  });

  it('an absent /dev gives an empty list, not an error', () => {
    expect(scanDev(join(root, 'nope'))).toEqual([]);
  });

  it('without udevadm on PATH, listing still works and says how', async () => {
    const path = process.env.PATH;
    process.env.PATH = join(root, 'empty-bin');
    try {
      const result = await listSerialPorts();
      expect(result.sources[0]).toMatch(/udev unavailable/);
      expect(Array.isArray(result.ports)).toBe(true);
    } finally {
      process.env.PATH = path;
    }
  });
});
