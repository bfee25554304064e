/**
 * Starts a board image under QEMU (the Cortex-M3 build on lm3s6965evb, or --cpu cortex-m4 on
 * mps2-an386) and prints the serial port the bench opens, like plugging in a USB board:
 *   npm run board:qemu -- battery|inverter [--cpu cortex-m3|cortex-m4] [--device PATH] [--device-id N]
 *                         [--key HEX64] [--link-id N] [--require-signed] [--hello-ms N]
 *                         [--heartbeat-ms N] [--watchdog-ms N]
 * prints `PTY /dev/pts/N` (or `DEVICE PATH` with --device), then runs until Ctrl-C. Point the bench
 * at it: gridloop run scenarios/<s>.yaml --device bess-hw=/dev/pts/N (docs/firmware.md).
 */
import { parseArgs } from 'node:util';
import { LOOP_BOARD_CPU, QEMU_MACHINE, startQemuBoard } from './target.ts';

function fail(message: string): never {
  console.error(`board:qemu: ${message}`);
  process.exit(2);
}

const { values, positionals } = (() => {
  try {
    return parseArgs({
      allowPositionals: true,
      options: {
        cpu: { type: 'string' },
        device: { type: 'string' },
        'device-id': { type: 'string' },
        key: { type: 'string' },
        'link-id': { type: 'string' },
        'require-signed': { type: 'boolean' },
        'hello-ms': { type: 'string' },
        'heartbeat-ms': { type: 'string' },
        'watchdog-ms': { type: 'string' },
      },
    });
  } catch (err) {
    return fail((err as Error).message);
  }
})();
const kind = positionals[0];
if (positionals.length !== 1 || (kind !== 'battery' && kind !== 'inverter')) {
  fail('give the board kind: battery or inverter');
}
const int = (name: string, min: number, max: number): number | undefined => {
  const text = values[name as keyof typeof values];
  if (text === undefined || typeof text !== 'string') return undefined;
  const v = Number(text);
  if (!Number.isInteger(v) || v < min || v > max)
    fail(`--${name} ${text}: expected an integer in [${min}, ${max}]`);
  return v;
};
let key: Uint8Array | undefined;
if (values.key !== undefined) {
  if (!/^[0-9a-fA-F]{64}$/.test(values.key)) fail('--key: expected 64 hex digits');
  key = Buffer.from(values.key, 'hex');
}
if (values['require-signed'] && !key) fail('--require-signed needs --key');

const cpu = values.cpu ?? LOOP_BOARD_CPU;
if (cpu !== 'cortex-m3' && cpu !== 'cortex-m4') fail(`--cpu ${cpu}: expected cortex-m3 or cortex-m4`);

const board = await startQemuBoard(kind, {
  cpu,
  device: values.device,
  deviceId: int('device-id', 0, 65534),
  key,
  linkId: int('link-id', 0, 255),
  requireSigned: values['require-signed'],
  helloIntervalMs: int('hello-ms', 1, 600000),
  heartbeatIntervalMs: int('heartbeat-ms', 1, 600000),
  watchdogMs: int('watchdog-ms', 1, 3600000),
});
console.log(`${values.device ? 'DEVICE' : 'PTY'} ${board.path}`);
console.error(`QEMU ${QEMU_MACHINE[cpu]} (pid ${board.pid}) runs the ${kind} board; Ctrl-C stops it`);
const stop = () => void board.stop();
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
const exit = await board.exited;
if (exit.fault) console.error(exit.fault);
process.exitCode = exit.fault ? 1 : 0;
