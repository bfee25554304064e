/**
 * Firmware protocol codec throughput (TypeScript).
 *   npm run bench:protocol [-- --seconds 1.5]
 * Reports MEASUREMENT encode+decode frames/s (allocating API and preallocated streaming path),
 * signed-frame encode+verify frames/s, and the deframer's MB/s over a mixed stream. Ends with one
 * JSON line. Target: ≥ 1 M MEASUREMENT frames/s encode+decode.
 */
import { availableParallelism, loadavg } from 'node:os';
import {
  Deframer,
  type DeframerEvent,
  type DeviceState,
  decodeFrame,
  encodeFrame,
  encodeFrameInto,
  MAX_WIRE_FRAME_LENGTH,
  type Measurement,
  SignatureVerifier,
} from '../firmware-protocol/ts/index.ts';

const secondsArg = process.argv.indexOf('--seconds');
const SECONDS = secondsArg > 0 ? Number(process.argv[secondsArg + 1]) : 1.5;
if (!(SECONDS > 0)) {
  console.error('bench:protocol: --seconds must be a positive number');
  process.exit(2);
}

const measurement: Measurement = {
  type: 'MEASUREMENT',
  step: 0,
  twinTimeS: 0,
  voltagePu: 1.01,
  voltageAngleRad: -0.05,
  frequencyHz: 49.98,
  rocofHzPerS: -0.01,
};
const state: DeviceState = {
  type: 'DEVICE_STATE',
  step: 0,
  activePowerW: 1234.5,
  reactivePowerVar: -120,
  stateOfCharge: 0.62,
  mode: 1,
  inverterState: 3,
  chargeState: 3,
  inverterAlarms: 0,
  bmsEvents: 0,
};

interface Rate {
  /** Operations per wall-clock second. */
  wall: number;
  /** Operations per second of this process's CPU time (user + system): robust on a shared machine. */
  cpu: number;
}

/** Runs `body(batch)` repeatedly for SECONDS after a warm-up. */
function rate(body: (iterations: number) => void, batch = 10_000): Rate {
  const warmUntil = performance.now() + 300;
  while (performance.now() < warmUntil) body(batch);
  let ops = 0;
  const cpuStart = process.cpuUsage();
  const start = performance.now();
  const until = start + SECONDS * 1000;
  let now = start;
  while (now < until) {
    body(batch);
    ops += batch;
    now = performance.now();
  }
  const cpu = process.cpuUsage(cpuStart);
  return { wall: ops / ((now - start) / 1000), cpu: ops / ((cpu.user + cpu.system) / 1e6) };
}

const fmt = (r: Rate, scale: number, unit: string, digits = 2) =>
  `${(r.wall / scale).toFixed(digits)} ${unit} (${(r.cpu / scale).toFixed(digits)} ${unit} per CPU-second)`;

let sink = 0;

// 1. Allocating API: encodeFrame → new Uint8Array; decodeFrame → Frame object.
const simpleRate = rate((n) => {
  for (let i = 0; i < n; i++) {
    measurement.step = i;
    measurement.twinTimeS = i * 1e-3;
    const wire = encodeFrame(measurement, { seq: i & 0xffff, deviceId: 3 });
    sink += decodeFrame(wire).seq;
  }
});

// 2. Streaming path a bench loop uses: encode into a preallocated buffer, deframe with pushInto.
const wireBuffer = new Uint8Array(MAX_WIRE_FRAME_LENGTH);
const streamDeframer = new Deframer();
const events: DeframerEvent[] = [];
const streamingRate = rate((n) => {
  for (let i = 0; i < n; i++) {
    measurement.step = i;
    measurement.twinTimeS = i * 1e-3;
    const len = encodeFrameInto(measurement, { seq: i & 0xffff, deviceId: 3 }, wireBuffer, 0);
    events.length = 0;
    streamDeframer.pushInto(wireBuffer.subarray(0, len), events);
    const e = events[0];
    if (e.ok) sink += e.frame.seq;
  }
});

// 3. Signed frames: encode with HMAC-SHA256, deframe with signature and replay verification.
const key = new Uint8Array(32).map((_, i) => i);
let timestamp = 1;
const verifier = new SignatureVerifier({ keyFor: () => ({ key, required: true }) });
const signedDeframer = new Deframer({ authenticator: verifier });
const signedRate = rate((n) => {
  for (let i = 0; i < n; i++) {
    const len = encodeFrameInto(
      measurement,
      { seq: i & 0xffff, deviceId: 3, signing: { key, linkId: 0, timestamp: timestamp++ } },
      wireBuffer,
      0,
    );
    events.length = 0;
    signedDeframer.pushInto(wireBuffer.subarray(0, len), events);
    if (!events[0].ok) throw new Error(`signed frame rejected: ${events[0].error.message}`);
  }
}, 2000);

// 4. Deframer throughput over a mixed 4 MB stream (MEASUREMENT and DEVICE_STATE), 4 KB chunks
//    as a serial port delivers them.
const frames: Uint8Array[] = [];
let streamBytes = 0;
for (let i = 0; streamBytes < 4 << 20; i++) {
  const f =
    i % 2 === 0
      ? encodeFrame({ ...measurement, step: i }, { seq: i & 0xffff, deviceId: 3 })
      : encodeFrame({ ...state, step: i }, { seq: i & 0xffff, deviceId: 3 });
  frames.push(f);
  streamBytes += f.length;
}
const stream = new Uint8Array(streamBytes);
let at = 0;
for (const f of frames) {
  stream.set(f, at);
  at += f.length;
}
const CHUNK = 4096;
const chunks: Uint8Array[] = [];
for (let o = 0; o < stream.length; o += CHUNK) chunks.push(stream.subarray(o, o + CHUNK));
const bulkDeframer = new Deframer();
const passRate = rate((n) => {
  for (let k = 0; k < n; k++) {
    for (const c of chunks) {
      events.length = 0;
      bulkDeframer.pushInto(c, events);
      sink += events.length;
    }
  }
}, 1);
if (bulkDeframer.stats.errorCount !== 0) throw new Error('deframer reported errors on a clean stream');
const deframerMBps = {
  wall: (passRate.wall * stream.length) / 1e6,
  cpu: (passRate.cpu * stream.length) / 1e6,
};
const deframerFramesPerS = { wall: passRate.wall * frames.length, cpu: passRate.cpu * frames.length };
const measurementWireBytes = encodeFrame(measurement, { seq: 0, deviceId: 3 }).length;
const [load1] = loadavg();

const target = 1_000_000;
console.log(`MEASUREMENT frame: ${measurementWireBytes} bytes on the wire (COBS + delimiter)`);
console.log(
  `load average ${load1.toFixed(1)} on ${availableParallelism()} CPUs (wall-clock rates suffer when it exceeds the CPU count)`,
);
console.log(`encode+decode, allocating API (encodeFrame/decodeFrame): ${fmt(simpleRate, 1e6, 'M frames/s')}`);
console.log(
  `encode+decode, streaming path (encodeFrameInto/Deframer.pushInto): ${fmt(streamingRate, 1e6, 'M frames/s')}`,
);
console.log(`signed encode+verify (HMAC-SHA256, replay window): ${fmt(signedRate, 1e3, 'k frames/s', 1)}`);
console.log(
  `deframer, mixed stream in ${CHUNK}-byte chunks: ${deframerMBps.wall.toFixed(1)} MB/s (${deframerMBps.cpu.toFixed(1)} MB/s per CPU-second), ${(deframerFramesPerS.wall / 1e6).toFixed(2)} M frames/s`,
);
const bestWall = Math.max(simpleRate.wall, streamingRate.wall);
const bestCpu = Math.max(simpleRate.cpu, streamingRate.cpu);
console.log(
  `target ≥ ${target / 1e6} M MEASUREMENT frames/s: wall clock ${bestWall >= target ? 'met' : 'NOT met'}, per CPU-second ${bestCpu >= target ? 'met' : 'NOT met'}`,
);
if (sink === -1) console.log('');
const round = (x: number) => Math.round(x);
console.log(
  JSON.stringify({
    bench: 'protocol',
    measurementWireBytes,
    loadAverage1m: Number(load1.toFixed(2)),
    encodeDecodeFramesPerS: round(simpleRate.wall),
    encodeDecodeFramesPerCpuS: round(simpleRate.cpu),
    encodeDecodeStreamingFramesPerS: round(streamingRate.wall),
    encodeDecodeStreamingFramesPerCpuS: round(streamingRate.cpu),
    signedEncodeVerifyFramesPerS: round(signedRate.wall),
    deframerMBps: Number(deframerMBps.wall.toFixed(1)),
    deframerMBpsPerCpuS: Number(deframerMBps.cpu.toFixed(1)),
    deframerFramesPerS: round(deframerFramesPerS.wall),
    targetFramesPerS: target,
    targetMetWallClock: bestWall >= target,
    targetMetPerCpuSecond: bestCpu >= target,
  }),
);
