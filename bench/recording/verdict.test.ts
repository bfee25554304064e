import { describe, expect, it } from 'vitest';
import { judgeRun } from './verdict.ts';

const ok = { name: 'nadir', passed: true };
const bad = { name: 'settles', passed: false };

describe('judgeRun', () => {
  it('passes a complete run whose assertions all passed (or that asked for none)', () => {
    expect(judgeRun({ status: 'complete', assertions: [ok] })).toEqual({
      passed: true,
      summary: '1 of 1 assertions passed',
      assertions: 1,
      failed: [],
    });
    expect(judgeRun({ status: 'complete', assertions: [] }).passed).toBe(true);
  });

  it('fails on any failed assertion, naming it', () => {
    expect(judgeRun({ status: 'complete', assertions: [ok, bad] })).toEqual({
      passed: false,
      summary: '1 of 2 assertions failed: settles',
      assertions: 2,
      failed: ['settles'],
    });
  });

  it('never passes a run that did not complete, whatever its assertions say', () => {
    for (const status of ['incomplete', 'failed', 'aborted'] as const) {
      expect(judgeRun({ status, assertions: [ok] }).passed).toBe(false);
    }
    expect(
      judgeRun({ status: 'aborted', reason: 'requested: stopped before the scenario ended', assertions: [] })
        .summary,
    ).toBe('run aborted (requested: stopped before the scenario ended); no assertions');
  });
});
