/**
 * glp-tool's line formats (encode input, decode output) and the golden-vector checks of a C codec
 * build, shared by the host build (firmware-cross.test.ts) and the Cortex-M builds under QEMU
 * (firmware-target.test.ts): the same vectors, the same expectations, wherever the codec runs.
 */
import { describe, expect, it } from 'vitest';
import type { Message } from '../firmware-protocol/ts/index.ts';
import { loadGoldenVectors, messageFromVector } from '../firmware-protocol/ts/test-support.ts';

/** Runs glp-tool with `args`, `input` on stdin; resolves with its output lines. */
export type RunTool = (args: string[], input: string) => Promise<string[]>;

const vectors = loadGoldenVectors();

const f32bits = (x: number) => {
  const v = new DataView(new ArrayBuffer(4));
  v.setFloat32(0, x, true);
  return `0x${v.getUint32(0, true).toString(16)}`;
};
const f64bits = (x: number) => {
  const v = new DataView(new ArrayBuffer(8));
  v.setFloat64(0, x, true);
  return `0x${v.getBigUint64(0, true).toString(16)}`;
};
export const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** glp-tool encode line: TYPE seq deviceId compat fields… (floats as bit patterns). */
export function toolLine(m: Message, seq: number, deviceId: number, compat = 0, signing?: string): string {
  const f = f32bits;
  let fields: (string | number | bigint)[];
  switch (m.type) {
    case 'HELLO':
      fields = [
        m.deviceType,
        m.protocolMajor,
        m.protocolMinor,
        m.firmwareMajor,
        m.firmwareMinor,
        m.firmwarePatch,
        m.linkFlags,
        m.ieee1547Categories,
        m.functions,
        f(m.ratedActivePowerW),
        f(m.ratedReactivePowerVar),
        f(m.ratedApparentPowerVa),
        f(m.ratedEnergyWh),
        f(m.nominalVoltageV),
        f(m.nominalFrequencyHz),
        m.serialNumber,
      ];
      break;
    case 'MEASUREMENT':
      fields = [
        m.step,
        f64bits(m.twinTimeS),
        f(m.voltagePu),
        f(m.voltageAngleRad),
        f(m.frequencyHz),
        f(m.rocofHzPerS),
      ];
      break;
    case 'DEVICE_STATE':
      fields = [
        m.step,
        f(m.activePowerW),
        f(m.reactivePowerVar),
        f(m.stateOfCharge),
        m.mode,
        m.inverterState,
        m.chargeState,
        m.inverterAlarms,
        m.bmsEvents,
      ];
      break;
    case 'SETPOINT':
      fields = [
        m.fields,
        m.mode,
        m.enabledFunctions,
        f(m.activePowerW),
        f(m.reactivePowerVar),
        f(m.activePowerMaxW),
        f(m.activePowerMinW),
        f(m.reactivePowerMaxVar),
      ];
      break;
    case 'CONFIG':
      fields = [
        m.fields,
        m.ieee1547Category,
        f(m.droopPu),
        f(m.frequencyDeadbandHz),
        ...m.voltVarVoltagesPu.map(f),
        ...m.voltVarReactivePu.map(f),
        f(m.stateOfChargeMin),
        f(m.stateOfChargeMax),
        m.watchdogMs,
      ];
      break;
    case 'HEARTBEAT':
      fields = [m.uptimeMs, m.rxFrames, m.rxErrors, m.txFrames, m.state];
      break;
    case 'TIME_SYNC':
      fields = [m.phase, m.originUs, m.receiveUs, m.transmitUs];
      break;
    case 'ALARM':
      fields = [
        m.severity,
        m.source,
        m.code,
        m.inverterAlarms,
        m.bmsEvents,
        f(m.value),
        m.uptimeMs,
        m.text.length === 0 ? '-' : Buffer.from(m.text, 'ascii').toString('hex'),
      ];
      break;
    case 'ACK':
      fields = [m.messageId, m.seq];
      break;
    case 'NACK':
      fields = [m.messageId, m.reason, m.seq, m.detail];
      break;
  }
  return [m.type, seq, deviceId, compat, ...fields, ...(signing ? [signing] : [])].join(' ');
}

/** A message as glp-tool prints it, in the TypeScript shape (float bit patterns → numbers, u64 → bigint). */
export function fromTool(json: Record<string, unknown>): Message {
  const view = new DataView(new ArrayBuffer(8));
  const value = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(value);
    if (typeof v !== 'string') return v;
    if (v.startsWith('f32:')) {
      view.setUint32(0, Number.parseInt(v.slice(4), 16), true);
      return view.getFloat32(0, true);
    }
    if (v.startsWith('f64:')) {
      view.setBigUint64(0, BigInt(v.slice(4)), true);
      return view.getFloat64(0, true);
    }
    return v;
  };
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(json)) {
    out[k] = json.type === 'TIME_SYNC' && k.endsWith('Us') ? BigInt(v as string) : value(v);
  }
  return out as unknown as Message;
}

/** Registers the golden-vector checks of one glp-tool build (`title` names where it runs). */
export function describeGoldenVectorChecks(title: string, runTool: RunTool): void {
  describe(title, () => {
    it('decodes every vector frame to the vector fields', async () => {
      const lines = await runTool(['decode'], vectors.frames.map((v) => v.wire).join('\n'));
      vectors.frames.forEach((v, i) => {
        const got = JSON.parse(lines[i]);
        expect(got.status, v.name).toBe('OK');
        expect(got.seq).toBe(v.seq);
        expect(got.deviceId).toBe(v.deviceId);
        expect(got.compatFlags).toBe(v.compatFlags);
        expect(got.signed).toBe(v.signing !== null);
        if (v.signing) expect(got.timestamp).toBe(v.signing.timestamp);
        expect(fromTool(got.message)).toEqual(messageFromVector(v.message));
      });
    });

    it('encodes every vector message byte for byte', async () => {
      const input = vectors.frames
        .map((v) =>
          toolLine(
            messageFromVector(v.message),
            v.seq,
            v.deviceId,
            v.compatFlags,
            v.signing ? `sign ${v.signing.linkId} ${v.signing.timestamp} ${v.signing.keyHex}` : undefined,
          ),
        )
        .join('\n');
      const lines = await runTool(['encode'], input);
      expect(lines).toEqual(vectors.frames.map((v) => v.wire));
    });

    it('rejects every bad vector with the same error code as TypeScript, and accepts longer payloads', async () => {
      const lines = await runTool(
        ['decode'],
        [...vectors.bad, ...vectors.compatible].map((v) => v.wire).join('\n'),
      );
      vectors.bad.forEach((v, i) => {
        expect(JSON.parse(lines[i]).status, v.name).toBe(v.error);
      });
      const compatible = JSON.parse(lines[vectors.bad.length]);
      expect(compatible.status).toBe('OK');
      expect(fromTool(compatible.message)).toEqual(messageFromVector(vectors.compatible[0].message));
    });

    it('verifies signed vectors with the key and rejects them with another key', async () => {
      const signedVector = vectors.frames.find((v) => v.name === 'measurement-signed');
      if (!signedVector?.signing) throw new Error('vector measurement-signed missing');
      const good = await runTool(['decode', '--key', signedVector.signing.keyHex], `${signedVector.wire}\n`);
      expect(JSON.parse(good[0]).status).toBe('OK');
      const wrong = await runTool(['decode', '--key', 'ab'.repeat(32)], `${signedVector.wire}\n`);
      expect(JSON.parse(wrong[0]).status).toBe('BAD_SIGNATURE');
      const unsignedVector = vectors.frames.find((v) => v.name === 'measurement-nominal');
      if (!unsignedVector) throw new Error('vector measurement-nominal missing');
      const required = await runTool(
        ['decode', '--key', signedVector.signing.keyHex, '--require-signed'],
        `${unsignedVector.wire}\n${signedVector.wire}\n${signedVector.wire}\n`,
      );
      expect(required.slice(0, 3).map((l) => JSON.parse(l).status)).toEqual(['UNSIGNED', 'OK', 'REPLAY']);
    });
  });
}
