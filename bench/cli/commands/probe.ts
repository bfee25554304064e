import {
  Deframer,
  DeviceFunction,
  DeviceType,
  encodeFrame,
  type FrameSink,
  type Hello,
  LinkFlag,
  type Message,
  SignatureVerifier,
  signingTimestampFromUnixMs,
} from '../../../firmware-protocol/ts/index.ts';
import { parseSigningKey } from '../../devices/firmware-link.ts';
import { SunSpecLink } from '../../devices/sunspec-link.ts';
import { SerialTransport } from '../../devices/transport.ts';
import { numberOption, parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { ExitCode, runtimeError, usageError } from '../exit-codes.ts';

const help = `Usage: gridloop probe <port> [options]

Talks to one device and shows what it is. Firmware protocol (default): waits for the board's HELLO
(asking for it), prints its identity and capabilities, then times --count MEASUREMENT → DEVICE_STATE
round trips. With --sunspec: finds the SunSpec map over Modbus RTU, prints the common model and the
models present, and times --count polls of the output.

Options:
  --baud N          line speed (default 921600; 19200 with --sunspec; a pty ignores it)
  --count N         round trips to time (default 20)
  --timeout S       how long to wait for the device, seconds (default 3)
  --device-id N     protocol device id, or Modbus unit id with --sunspec (default 1)
  --key HEX         32-byte signing key (64 hex digits): sign frames, require signed answers
  --sunspec         the device is a SunSpec Modbus RTU device
  --json            one JSON object instead of text

Exit codes: 0 the device answered, 2 bad option, 3 no answer or the port cannot be opened.`;

const FUNCTION_NAMES: [number, string][] = [
  [DeviceFunction.FREQ_WATT, 'frequency-watt'],
  [DeviceFunction.VOLT_VAR, 'volt-var'],
  [DeviceFunction.GRID_FORMING, 'grid-forming'],
  [DeviceFunction.SOC_MANAGEMENT, 'SoC management'],
  [DeviceFunction.CONSTANT_POWER, 'constant power'],
];

const percentile = (sorted: number[], q: number) =>
  sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : Number.NaN;

interface RttSummary {
  sent: number;
  answered: number;
  rtt_us: { p50: number; p99: number; max: number };
}

function summarise(rtts: number[], sent: number): RttSummary {
  const sorted = [...rtts].sort((a, b) => a - b);
  return {
    sent,
    answered: rtts.length,
    rtt_us: { p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), max: sorted.at(-1) ?? Number.NaN },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function probeFirmware(
  path: string,
  o: { baud: number; count: number; timeout_s: number; deviceId: number; key?: Uint8Array },
) {
  const transport = new SerialTransport({ path, baudRate: o.baud });
  try {
    await transport.open();
  } catch (err) {
    throw runtimeError(`gridloop probe: ${(err as Error).message}`);
  }
  const key = o.key;
  const deframer = new Deframer(
    key
      ? {
          authenticator: new SignatureVerifier({
            keyFor: (id) => (id === o.deviceId ? { key, required: true } : undefined),
          }),
        }
      : undefined,
  );
  let hello: (Hello & { deviceId: number; signed: boolean }) | undefined;
  const answers = new Map<number, number>();
  let badFrames = 0;
  let now = 0;
  // Bad frames are only counted: feed() rejects them without building errors, so a noisy line
  // does not skew the round-trip times measured here.
  const sink: FrameSink = {
    frame: (frame) => {
      const m = frame.message;
      if (m.type === 'HELLO') hello = { ...m, deviceId: frame.deviceId, signed: frame.signature !== null };
      else if (m.type === 'DEVICE_STATE' && !answers.has(m.step)) answers.set(m.step, now);
    },
    reject: () => {
      badFrames++;
    },
  };
  transport.on('data', (chunk) => {
    now = performance.now();
    deframer.feed(chunk, sink);
  });
  let seq = 0;
  let lastTs = 0;
  const send = (m: Message) => {
    const timestamp = Math.max(lastTs + 1, signingTimestampFromUnixMs(Date.now()));
    lastTs = timestamp;
    return transport.write(
      encodeFrame(m, {
        seq: seq++ & 0xffff,
        deviceId: o.deviceId,
        signing: key ? { key, linkId: 0, timestamp } : undefined,
      }),
    );
  };
  try {
    const deadline = performance.now() + o.timeout_s * 1000;
    // A board repeats HELLO until it hears from the bench, and answers a HELLO with its own.
    while (!hello && performance.now() < deadline) {
      await send({
        type: 'HELLO',
        deviceType: 0,
        protocolMajor: 1,
        protocolMinor: 0,
        firmwareMajor: 0,
        firmwareMinor: 0,
        firmwarePatch: 0,
        linkFlags: key ? LinkFlag.SIGNING_SUPPORTED : 0,
        ieee1547Categories: 0,
        functions: 0,
        ratedActivePowerW: 0,
        ratedReactivePowerVar: 0,
        ratedApparentPowerVa: 0,
        ratedEnergyWh: 0,
        nominalVoltageV: 0,
        nominalFrequencyHz: 0,
        serialNumber: 0,
      });
      await sleep(200);
    }
    if (!hello) {
      throw runtimeError(
        `gridloop probe: no HELLO from ${path} within ${o.timeout_s} s (${badFrames} unreadable frames${key ? '; is the key right?' : ''})`,
      );
    }
    const sentAt = new Map<number, number>();
    for (let step = 1; step <= o.count; step++) {
      sentAt.set(step, performance.now());
      await send({
        type: 'MEASUREMENT',
        step,
        twinTimeS: step * 0.02,
        voltagePu: 1,
        voltageAngleRad: 0,
        frequencyHz: hello.nominalFrequencyHz || 50,
        rocofHzPerS: 0,
      });
      await sleep(20);
    }
    await sleep(100);
    const rtts: number[] = [];
    for (const [step, t] of sentAt) {
      const back = answers.get(step);
      if (back !== undefined) rtts.push((back - t) * 1000);
    }
    return { path, protocol: 'firmware' as const, hello, roundTrips: summarise(rtts, o.count), badFrames };
  } finally {
    await transport.close();
  }
}

async function probeSunSpec(path: string, o: { baud: number; count: number; deviceId: number }) {
  const link = new SunSpecLink({
    id: 'probe',
    driver: 'sunspec',
    path,
    baud: o.baud,
    protocolDeviceId: o.deviceId,
  });
  try {
    try {
      await link.open();
    } catch (err) {
      throw runtimeError(`gridloop probe: ${(err as Error).message}`);
    }
    for (let step = 1; step <= o.count; step++) {
      link.exchange({ step, t_s: step * 0.1, vm_pu: 1, va_deg: 0, f_hz: 50, rocof_hz_s: 0 });
      await sleep(100);
    }
    const stats = link.stats();
    return {
      path,
      protocol: 'sunspec' as const,
      identity: link.identity,
      output: { p_w: link.input().p_mw * 1e6, q_var: link.input().q_mvar * 1e6, soc: link.input().soc },
      roundTrips: {
        sent: o.count,
        answered: o.count - stats.missed,
        rtt_us: { p50: stats.rtt_us_p50, p99: stats.rtt_us_p99, max: stats.rtt_us_max },
      },
    };
  } finally {
    await link.close();
  }
}

const us = (v: number) => (Number.isFinite(v) ? `${Math.round(v)} µs` : '-');

export const probeCommand: Command = {
  name: 'probe',
  summary: 'show a device’s HELLO, capabilities and round-trip time',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs('probe', argv, {
      baud: { type: 'string' },
      count: { type: 'string' },
      timeout: { type: 'string' },
      'device-id': { type: 'string' },
      key: { type: 'string' },
      sunspec: { type: 'boolean' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 1)
      throw usageError('gridloop probe: give exactly one port, e.g. gridloop probe /dev/ttyACM0');
    const path = positionals[0];
    const sunspec = values.sunspec === true;
    const baud = numberOption('probe', 'baud', values.baud, sunspec ? 19200 : 921600, 50, 4_000_000);
    const count = numberOption('probe', 'count', values.count, 20, 1, 10_000);
    const timeout_s = numberOption('probe', 'timeout', values.timeout, 3, 0.1, 600);
    const deviceId = numberOption(
      'probe',
      'device-id',
      values['device-id'],
      1,
      sunspec ? 1 : 0,
      sunspec ? 247 : 65535,
    );
    let key: Uint8Array | undefined;
    if (values.key !== undefined) {
      if (sunspec) throw usageError('gridloop probe: --key applies to the firmware protocol, not --sunspec');
      try {
        key = parseSigningKey('probe', values.key);
      } catch (err) {
        throw usageError(`gridloop probe: --key: ${(err as Error).message}`);
      }
    }
    if (sunspec) {
      const r = await probeSunSpec(path, { baud, count, deviceId });
      if (values.json) console.log(JSON.stringify(r));
      else {
        const id = r.identity;
        console.log(`SunSpec device on ${path} (unit ${deviceId}), map at ${id?.base}`);
        console.log(`  ${id?.manufacturer} ${id?.model}, version ${id?.version}, serial ${id?.serialNumber}`);
        console.log(
          `  models (${id?.generation === 'legacy' ? 'legacy 1xx: controls through 123/124' : 'modern 7xx: controls through 704/802'}): ${id?.models.map((m) => `${m.id}@${m.address}(L=${m.length})`).join(' ')}`,
        );
        console.log(
          `  output ${r.output.p_w.toFixed(0)} W, ${r.output.q_var.toFixed(0)} var${r.output.soc !== undefined ? `, SoC ${(r.output.soc * 100).toFixed(1)} %` : ''}`,
        );
        console.log(
          `  polls: ${r.roundTrips.answered}/${r.roundTrips.sent} answered, RTT p50 ${us(r.roundTrips.rtt_us.p50)}, p99 ${us(r.roundTrips.rtt_us.p99)}, max ${us(r.roundTrips.rtt_us.max)}`,
        );
      }
      return r.roundTrips.answered > 0 ? ExitCode.ok : ExitCode.runtime;
    }
    const r = await probeFirmware(path, { baud, count, timeout_s, deviceId, key });
    if (values.json) console.log(JSON.stringify(r));
    else {
      const h = r.hello;
      const type =
        h.deviceType === DeviceType.BATTERY
          ? 'battery'
          : h.deviceType === DeviceType.INVERTER
            ? 'inverter'
            : `type ${h.deviceType}`;
      const functions = FUNCTION_NAMES.filter(([bit]) => h.functions & bit).map(([, name]) => name);
      console.log(
        `HELLO from ${path}: ${type}, device id ${h.deviceId}, serial ${h.serialNumber}${h.signed ? ', signed' : ''}`,
      );
      console.log(
        `  protocol ${h.protocolMajor}.${h.protocolMinor}, firmware ${h.firmwareMajor}.${h.firmwareMinor}.${h.firmwarePatch}`,
      );
      console.log(
        `  rated ${h.ratedActivePowerW} W, ${h.ratedReactivePowerVar} var, ${h.ratedApparentPowerVa} VA${h.ratedEnergyWh ? `, ${h.ratedEnergyWh} Wh` : ''}; ${h.nominalVoltageV} V, ${h.nominalFrequencyHz} Hz`,
      );
      console.log(
        `  functions: ${functions.join(', ') || 'none'}; signing ${h.linkFlags & LinkFlag.SIGNING_SUPPORTED ? 'supported' : 'not supported'}`,
      );
      console.log(
        `  round trips: ${r.roundTrips.answered}/${r.roundTrips.sent} answered, RTT p50 ${us(r.roundTrips.rtt_us.p50)}, p99 ${us(r.roundTrips.rtt_us.p99)}, max ${us(r.roundTrips.rtt_us.max)}; ${r.badFrames} bad frames`,
      );
    }
    return r.roundTrips.answered > 0 ? ExitCode.ok : ExitCode.runtime;
  },
};
