/**
 * What detectors leave behind: one sample per evaluation (statistic, threshold, alarm flag) and an
 * alarm event at each rising edge. Metrics (metrics.ts) compare them with the attack labels.
 */
export interface AlarmEvent {
  t_s: number;
  detector: string;
  /** What the alarm points at (a channel, a measurement named by the largest normalised residual). */
  target?: string;
  statistic: number;
  threshold: number;
  message: string;
}

export interface DetectorSample {
  t_s: number;
  detector: string;
  statistic: number;
  threshold: number;
  alarm: boolean;
}

export class AlarmLog {
  readonly alarms: AlarmEvent[] = [];
  readonly samples: DetectorSample[] = [];
  private readonly raised = new Map<string, boolean>();
  /** Listener for live use (the bench forwards alarms to the recorder and the socket API). */
  onAlarm?: (alarm: AlarmEvent) => void;

  /** Records one evaluation; raises an alarm event when `alarm` turns on. */
  record(sample: DetectorSample, target: string | undefined, message: string): void {
    this.samples.push(sample);
    const was = this.raised.get(sample.detector) ?? false;
    this.raised.set(sample.detector, sample.alarm);
    if (sample.alarm && !was) {
      const e: AlarmEvent = {
        t_s: sample.t_s,
        detector: sample.detector,
        target,
        statistic: sample.statistic,
        threshold: sample.threshold,
        message,
      };
      this.alarms.push(e);
      this.onAlarm?.(e);
    }
  }
}

/** k-of-n persistence: the alarm holds while at least k of the last n raw tests failed. */
export class Persistence {
  private readonly window: Uint8Array;
  private head = 0;
  private failures = 0;
  constructor(
    readonly k: number,
    readonly n: number,
  ) {
    if (!(k >= 1 && n >= k)) throw new TypeError(`persistence needs 1 ≤ k ≤ n (got k=${k}, n=${n})`);
    this.window = new Uint8Array(n);
  }
  push(failed: boolean): boolean {
    this.failures -= this.window[this.head];
    this.window[this.head] = failed ? 1 : 0;
    this.failures += this.window[this.head];
    this.head = (this.head + 1) % this.n;
    return this.failures >= this.k;
  }
}
