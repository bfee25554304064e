/**
 * Campaign progress: counts (done, failed, running), rate and estimated time left, for the
 * terminal and for anyone listening (socket API). On a terminal one line redrawn in place;
 * elsewhere a line every `every_s` seconds.
 */
import type { CampaignProgress } from '../server/api.ts';

export type { CampaignProgress };

export class ProgressTracker {
  private readonly started = performance.now();
  private readonly running = new Set<string>();
  private doneNow = 0;
  private failed = 0;

  constructor(
    private readonly campaign: string,
    private readonly total: number,
    private readonly skipped: number,
    skippedFailed: number,
    private readonly listener?: (p: CampaignProgress) => void,
  ) {
    this.failed = skippedFailed;
  }

  start(id: string): void {
    this.running.add(id);
    this.emit();
  }

  finish(id: string, ok: boolean): void {
    this.running.delete(id);
    this.doneNow++;
    if (!ok) this.failed++;
    this.emit();
  }

  snapshot(): CampaignProgress {
    const elapsed_s = (performance.now() - this.started) / 1000;
    const rate = elapsed_s > 0 ? this.doneNow / elapsed_s : 0;
    const left = this.total - this.skipped - this.doneNow;
    return {
      campaign: this.campaign,
      total: this.total,
      done: this.skipped + this.doneNow,
      failed: this.failed,
      running: this.running.size,
      skipped: this.skipped,
      rate: Number(rate.toFixed(3)),
      eta_s: this.doneNow > 0 ? Number((left / rate).toFixed(1)) : null,
      elapsed_s: Number(elapsed_s.toFixed(1)),
    };
  }

  private emit(): void {
    this.listener?.(this.snapshot());
  }
}

/** One progress line: "12/200 done (1 failed), 2 running, 3.4 runs/s, about 55 s left". */
export function progressLine(p: CampaignProgress): string {
  const eta =
    p.eta_s === null
      ? ''
      : `, about ${p.eta_s >= 120 ? `${(p.eta_s / 60).toFixed(0)} min` : `${p.eta_s.toFixed(0)} s`} left`;
  return `campaign ${p.campaign}: ${p.done}/${p.total} done${p.failed ? ` (${p.failed} failed)` : ''}${p.skipped ? ` [${p.skipped} already done]` : ''}, ${p.running} running, ${p.rate.toFixed(2)} runs/s${eta}`;
}

/** Prints progress to stderr: redrawn on a terminal, a line every `every_s` s elsewhere (0: none). */
export function terminalProgress(every_s: number): (p: CampaignProgress) => void {
  const tty = process.stderr.isTTY;
  let last = 0;
  return (p) => {
    const now = performance.now();
    const final = p.done === p.total && p.running === 0;
    if (tty) {
      if (!final && now - last < 100) return;
      last = now;
      process.stderr.write(`\r\x1b[K${progressLine(p)}${final ? '\n' : ''}`);
      return;
    }
    if (every_s <= 0 || (!final && now - last < every_s * 1000)) return;
    last = now;
    process.stderr.write(`${progressLine(p)}\n`);
  };
}
