import { describe, expect, it } from 'vitest';
import { type CampaignProgress, ProgressTracker, progressLine } from './progress.ts';

describe('campaign progress', () => {
  it('counts done, failed and running, with skipped runs counted as done but not in the rate', () => {
    const seen: CampaignProgress[] = [];
    const t = new ProgressTracker('c', 10, 3, 1, (p) => seen.push(p));
    t.start('a');
    t.start('b');
    expect(seen.at(-1)).toMatchObject({ total: 10, done: 3, failed: 1, running: 2, skipped: 3, eta_s: null });
    t.finish('a', true);
    t.finish('b', false);
    const p = seen.at(-1)!;
    expect(p).toMatchObject({ done: 5, failed: 2, running: 0 });
    expect(p.rate).toBeGreaterThan(0);
    // 5 runs left at the session's rate (2 runs in elapsed_s).
    expect(p.eta_s).toBeCloseTo(5 / p.rate, 0);
  });

  it('reads as one line: done/total, failed, running, rate, time left', () => {
    const line = progressLine({
      campaign: 'sweep',
      total: 200,
      done: 12,
      failed: 1,
      running: 2,
      skipped: 0,
      rate: 3.4,
      eta_s: 55.3,
      elapsed_s: 3.5,
    });
    expect(line).toBe('campaign sweep: 12/200 done (1 failed), 2 running, 3.40 runs/s, about 55 s left');
    expect(
      progressLine({
        campaign: 'x',
        total: 1e5,
        done: 10,
        failed: 0,
        running: 100,
        skipped: 4,
        rate: 50,
        eta_s: 1999.8,
        elapsed_s: 1,
      }),
    ).toBe('campaign x: 10/100000 done [4 already done], 100 running, 50.00 runs/s, about 33 min left');
  });
});
