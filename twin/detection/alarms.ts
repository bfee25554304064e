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
  /**
   * The attack the refused artefact belongs to, when the detector judges artefacts rather than a
   * signal (a block, a meter reading: HostAttackTarget): it counts for that attack only.
   */
  attack?: string;
}

/** An alarm's falling edge: the detector's test passes again (k-of-n persistence released). */
export interface AlarmClearedEvent {
  t_s: number;
  detector: string;
  statistic: number;
  threshold: number;
}

/** The `data` of an `alarm` / `alarm-cleared` event (docs/socket-api.md). */
export interface AlarmEventData {
  detector: string;
  statistic: number;
  threshold: number;
}

export interface DetectorSample {
  t_s: number;
  detector: string;
  statistic: number;
  threshold: number;
  alarm: boolean;
  /** A decision on an attack's artefact (AlarmLog.decision): which attack. */
  attack?: string;
}

export class AlarmLog {
  readonly alarms: AlarmEvent[] = [];
  /** Falling edges, in order: where each alarm period ends. */
  readonly cleared: AlarmClearedEvent[] = [];
  readonly samples: DetectorSample[] = [];
  /**
   * Detectors that judge artefacts (blocks, meter readings) through `decision`: every artefact is
   * an attack's or honest, so their false alarms are refusals of honest ones, whatever the time.
   */
  readonly artefactDetectors = new Set<string>();
  private readonly raised = new Map<string, boolean>();
  /** Listener for live use (the bench forwards alarms to the recorder and the socket API). */
  onAlarm?: (alarm: AlarmEvent) => void;

  /** Records one evaluation; raises an alarm event when `alarm` turns on, a cleared one when it turns off. */
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
    } else if (!sample.alarm && was) {
      const { t_s, detector, statistic, threshold } = sample;
      this.cleared.push({ t_s, detector, statistic, threshold });
    }
  }

  /**
   * One decision on a discrete artefact (a block, a meter reading): a refusal is an alarm of its own
   * whatever came before (two blocks refused in a row are two alarms), an acceptance a clean sample.
   */
  decision(sample: DetectorSample, target: string | undefined, message: string, attack?: string): void {
    this.artefactDetectors.add(sample.detector);
    this.samples.push(attack ? { ...sample, attack } : sample);
    if (!sample.alarm) return;
    const e: AlarmEvent = {
      t_s: sample.t_s,
      detector: sample.detector,
      target,
      statistic: sample.statistic,
      threshold: sample.threshold,
      message,
      ...(attack ? { attack } : {}),
    };
    this.alarms.push(e);
    this.onAlarm?.(e);
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
