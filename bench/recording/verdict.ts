/**
 * A run's verdict, judged in one place. `RunRecorder.close()` judges every recorded run with
 * `judgeRun` and writes the verdict into manifest.json, the `verdict` point (files and InfluxDB)
 * and the run-end event; the CLI's exit code (`simulate`, `attack`, `run`), `gridloop report`'s
 * HTML badge, its JUnit XML and its exit code all read that verdict rather than judging again.
 *
 * What counts: the run reached its end (`status: complete`) and every assertion the scenario
 * asked for passed (a security scenario's `expect` items are assertions too). Nothing else: the
 * report's IEEE 1547 checks on the recording are information, since they cannot tell the
 * scenario's own stimulus (a scripted fault, a scripted generator trip) from the behaviour of the
 * device under test; a scenario that wants IEEE 1547 judged asks with `ieee1547-compliance`.
 */
import type { AssertionResult, RunStatus } from './manifest.ts';

export interface RunVerdict {
  passed: boolean;
  /** One line saying why, e.g. "5 of 5 assertions passed" or "run aborted (…); no assertions". */
  summary: string;
  /** How many assertions were judged, and the names of those that failed. */
  assertions: number;
  failed: string[];
}

export interface VerdictInput {
  status: RunStatus;
  reason?: string;
  assertions: readonly AssertionResult[];
}

export function judgeRun(run: VerdictInput): RunVerdict {
  const failed = run.assertions.filter((a) => !a.passed).map((a) => a.name);
  const n = run.assertions.length;
  const counted =
    n === 0
      ? 'no assertions'
      : failed.length > 0
        ? `${failed.length} of ${n} assertions failed: ${failed.join(', ')}`
        : `${n} of ${n} assertions passed`;
  if (run.status !== 'complete') {
    const why = run.status === 'incomplete' ? 'run incomplete (killed or crashed)' : `run ${run.status}`;
    return {
      passed: false,
      summary: `${why}${run.reason ? ` (${run.reason})` : ''}; ${counted}`,
      assertions: n,
      failed,
    };
  }
  return { passed: failed.length === 0, summary: counted, assertions: n, failed };
}

/** What a scenario assertion (twin/scenario/assertions.ts or a security expectation) reports. */
export interface JudgedOutcome {
  name: string;
  passed: boolean;
  value?: number | string;
  detail: string;
  span_s?: readonly [number, number];
}

/**
 * Scenario assertion outcomes as the recorder keeps them. `t_s` is when they were evaluated (the
 * end of the scenario, `end_s`); `span_s` the scenario time each one watched (whole run if absent).
 */
export function assertionResults(outcomes: readonly JudgedOutcome[], end_s: number): AssertionResult[] {
  return outcomes.map((a) => ({
    name: a.name,
    passed: a.passed,
    ...(typeof a.value === 'number' ? { value: a.value } : {}),
    message: a.detail,
    t_s: end_s,
    span_s: a.span_s ? [a.span_s[0], a.span_s[1]] : [0, end_s],
  }));
}
