/**
 * Round trips to an emulated board measured by a minimal client: MEASUREMENT out, the matching
 * DEVICE_STATE back, one at a time with 2 ms between them. Shared by bench:loop (the RTT floor)
 * and bench:serial-read (each read path).
 */
import { Deframer, encodeFrame } from '../firmware-protocol/ts/index.ts';

export interface BoardClient {
  /** Registers the callback that receives every chunk read from the board. */
  onData(callback: (chunk: Uint8Array) => void): void;
  write(bytes: Uint8Array): Promise<void>;
}

/** Round-trip times in µs (unsorted); unanswered exchanges (200 ms) are left out. */
export async function boardRoundTrips(client: BoardClient, samples: number): Promise<number[]> {
  const deframer = new Deframer();
  let expected = -1;
  let answered: ((now: number) => void) | undefined;
  client.onData((chunk) => {
    const now = performance.now();
    for (const e of deframer.push(chunk)) {
      if (e.ok && e.frame.message.type === 'DEVICE_STATE' && e.frame.message.step === expected)
        answered?.(now);
    }
  });
  const rtts: number[] = [];
  for (let step = 1; step <= samples; step++) {
    expected = step;
    const bytes = encodeFrame(
      {
        type: 'MEASUREMENT',
        step,
        twinTimeS: step * 0.01,
        voltagePu: 1,
        voltageAngleRad: 0,
        frequencyHz: 50,
        rocofHzPerS: 0,
      },
      { seq: step & 0xffff, deviceId: 1 },
    );
    const back = new Promise<number>((resolve) => {
      answered = resolve;
      setTimeout(() => resolve(Number.NaN), 200);
    });
    const sent = performance.now();
    await client.write(bytes);
    const at = await back;
    if (Number.isFinite(at)) rtts.push((at - sent) * 1000);
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
  return rtts;
}
