/**
 * Serial ports on this machine. serialport's `SerialPort.list()` asks udev (`udevadm info -e`) on
 * Linux; where udevadm is missing (most containers) the spawn fails in a way that can take the
 * process down, so it is only asked when udevadm is on the PATH, and a direct scan of /dev
 * (/dev/serial/by-id, ttyUSB*, ttyACM*, ttyS*, ttyAMA*, and open pseudo-terminals) always runs.
 */
import { accessSync, constants, readdirSync, readlinkSync, statSync } from 'node:fs';
import { delimiter, join, resolve } from 'node:path';

export interface SerialPortEntry {
  path: string;
  /** usb-serial, usb-acm, uart, pty, by-id link. */
  kind: 'usb-serial' | 'usb-acm' | 'uart' | 'pty' | 'other';
  /** /dev/serial/by-id name pointing at this port, when there is one. */
  byId?: string;
  manufacturer?: string;
  serialNumber?: string;
  vendorId?: string;
  productId?: string;
}

export interface PortListResult {
  ports: SerialPortEntry[];
  /** How the list was made, for the user: 'udev' and/or 'scan', with why udev was not used. */
  sources: string[];
}

function onPath(command: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, command), constants.X_OK);
      return true;
    } catch {}
  }
  return false;
}

function kindOf(path: string): SerialPortEntry['kind'] {
  if (/ttyUSB\d+$/.test(path)) return 'usb-serial';
  if (/ttyACM\d+$/.test(path)) return 'usb-acm';
  if (/tty(S|AMA)\d+$/.test(path)) return 'uart';
  if (/^\/dev\/pts\/\d+$/.test(path)) return 'pty';
  return 'other';
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

/** The /dev scan (exported for tests with a fake root). */
export function scanDev(devRoot = '/dev'): SerialPortEntry[] {
  const found = new Map<string, SerialPortEntry>();
  for (const name of safeReaddir(devRoot)) {
    if (!/^tty(USB|ACM|S|AMA)\d+$/.test(name)) continue;
    const path = join(devRoot, name);
    found.set(path, { path, kind: kindOf(path) });
  }
  const pts = join(devRoot, 'pts');
  for (const name of safeReaddir(pts)) {
    if (!/^\d+$/.test(name)) continue;
    const path = join(pts, name);
    found.set(path, { path, kind: 'pty' });
  }
  const byIdDir = join(devRoot, 'serial', 'by-id');
  for (const name of safeReaddir(byIdDir)) {
    const link = join(byIdDir, name);
    let target: string;
    try {
      target = resolve(byIdDir, readlinkSync(link));
      statSync(target);
    } catch {
      continue;
    }
    const entry = found.get(target) ?? { path: target, kind: kindOf(target) };
    entry.byId = link;
    found.set(target, entry);
  }
  return [...found.values()].sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true }));
}

/** Lists serial ports; never throws (an empty list when there are none). */
export async function listSerialPorts(): Promise<PortListResult> {
  const sources: string[] = [];
  const byPath = new Map<string, SerialPortEntry>();
  if (process.platform !== 'linux' || onPath('udevadm')) {
    try {
      const { SerialPort } = await import('serialport');
      const listed = await Promise.race([
        SerialPort.list(),
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timed out')), 3000).unref()),
      ]);
      for (const p of listed) {
        byPath.set(p.path, {
          path: p.path,
          kind: kindOf(p.path),
          manufacturer: p.manufacturer,
          serialNumber: p.serialNumber,
          vendorId: p.vendorId,
          productId: p.productId,
        });
      }
      sources.push('udev');
    } catch (err) {
      sources.push(`udev failed (${(err as Error).message})`);
    }
  } else {
    sources.push('udev unavailable (no udevadm on PATH)');
  }
  if (process.platform !== 'win32') {
    for (const entry of scanDev()) byPath.set(entry.path, { ...entry, ...byPath.get(entry.path) });
    sources.push('scan of /dev');
  }
  return {
    ports: [...byPath.values()].sort((a, b) => a.path.localeCompare(b.path, 'en', { numeric: true })),
    sources,
  };
}
