import { listSerialPorts } from '../../devices/port-list.ts';
import { parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { ExitCode, usageError } from '../exit-codes.ts';

const help = `Usage: gridloop devices [--json]

Lists serial ports: USB-serial adapters (ttyUSB*), USB CDC boards (ttyACM*), UARTs (ttyS*,
ttyAMA*), open pseudo-terminals (/dev/pts/N, e.g. an emulated board) and /dev/serial/by-id names.
Uses udev (through serialport) when udevadm is installed, and always scans /dev directly, so it works
in containers without udev.

Options:
  --json    one JSON object: { ports: [...], sources: [...] }

Exit codes: 0 listed (possibly none), 2 bad option.`;

export const devicesCommand: Command = {
  name: 'devices',
  summary: 'list serial ports (USB-serial, ACM, UART, pseudo-terminals)',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs('devices', argv, { json: { type: 'boolean' } });
    if (positionals.length > 0) throw usageError(`gridloop devices: unexpected argument '${positionals[0]}'`);
    const result = await listSerialPorts();
    if (values.json) {
      console.log(JSON.stringify(result));
      return ExitCode.ok;
    }
    if (result.ports.length === 0) console.log('no serial ports found');
    for (const p of result.ports) {
      const details = [
        p.kind,
        p.byId ? `by-id ${p.byId}` : '',
        p.manufacturer ?? '',
        p.vendorId && p.productId ? `${p.vendorId}:${p.productId}` : '',
        p.serialNumber ? `serial ${p.serialNumber}` : '',
      ].filter(Boolean);
      console.log(`${p.path.padEnd(16)} ${details.join(' · ')}`);
    }
    console.log(`(${result.sources.join('; ')})`);
    return ExitCode.ok;
  },
};
