/**
 * The loop's own clock-keeping over a run: every step's lateness and work in 1 µs histograms, the
 * ten latest-starting steps, garbage-collection pauses and CPU time, summed up at the end.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import type { TimingSummary } from './messages.ts';
import type { StepTiming } from './pacer.ts';
import { MicrosecondHistogram } from './timing-histogram.ts';

export class LoopTiming {
  private readonly lateness = new MicrosecondHistogram();
  private readonly work = new MicrosecondHistogram();
  private readonly gc = { count: 0, total_ms: 0, max_ms: 0 };
  // The latest-starting steps, to tell a slow step (its predecessor's work) from a stalled process.
  private readonly worstSteps: TimingSummary['worstSteps'] = Array.from({ length: 10 }, () => ({
    step: -1,
    lateness_us: 0,
    work_us: 0,
    previousWork_us: 0,
  }));
  private previousWork_us = 0;
  private readonly gcObserver: PerformanceObserver;
  private readonly cpuStart = process.cpuUsage();
  private readonly wallStart = performance.now();

  constructor() {
    this.gcObserver = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        this.gc.count++;
        this.gc.total_ms += entry.duration;
        if (entry.duration > this.gc.max_ms) this.gc.max_ms = entry.duration;
      }
    });
    this.gcObserver.observe({ entryTypes: ['gc'] });
  }

  /** One step's timing (allocates nothing unless the step is among the ten latest). */
  record(timing: StepTiming): void {
    this.lateness.add(timing.lateness_us);
    this.work.add(timing.work_us);
    const worst = this.worstSteps;
    const last = worst[worst.length - 1];
    if (timing.lateness_us > last.lateness_us) {
      last.step = timing.step;
      last.lateness_us = timing.lateness_us;
      last.work_us = timing.work_us;
      last.previousWork_us = this.previousWork_us;
      worst.sort((a, b) => b.lateness_us - a.lateness_us);
    }
    this.previousWork_us = timing.work_us;
  }

  /** Stops watching the garbage collector and sums the run up. */
  finish(stats: { steps: number; overruns: number }, dt_s: number): TimingSummary {
    const wall_s = (performance.now() - this.wallStart) / 1000;
    const cpu = process.cpuUsage(this.cpuStart);
    this.gcObserver.disconnect();
    const { lateness, work } = this;
    return {
      steps: stats.steps,
      overruns: stats.overruns,
      lateness_us: { p50: lateness.quantile(0.5), p99: lateness.quantile(0.99), max: lateness.max },
      work_us: { p50: work.quantile(0.5), p99: work.quantile(0.99), max: work.max },
      realTimeFactor: wall_s > 0 ? (stats.steps * dt_s) / wall_s : Number.NaN,
      wall_s,
      cpu_user_us: cpu.user,
      cpu_system_us: cpu.system,
      gc: { ...this.gc },
      worstSteps: this.worstSteps.filter((s) => s.step >= 0).map((s) => ({ ...s })),
    };
  }
}
