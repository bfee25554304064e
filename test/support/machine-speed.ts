/**
 * How much slower this machine runs the tests right now than the quiet two-core machine their
 * wall-clock budgets were set on. Only the tests' own waiting scales with it (how long to wait for a
 * board to come online, a build to finish, a hook to run); what the product promises (an alarm
 * within 1.5 s of twin time, offline after 3 missed exchanges) is judged in twin time, counts or
 * ratios and never scales.
 */
import { cpus, loadavg } from 'node:os';

/** A budget never grows beyond this: a hung test must still fail in bounded time. */
export const MAX_SLOWNESS = 5;

/** Keeps the spin's arithmetic observable so that it is not optimised away. */
export let spinSink = 0;

/**
 * max(our share of a core while spinning, run-queue length per core), clamped to [1, 5]. The spin
 * sees contention now; the load average sees it over the last minute (compilers and servers the
 * test starts compete with it later).
 */
export function measureSlowness(spinMs = 15): number {
  const wallStart = performance.now();
  const cpuStart = process.cpuUsage();
  let x = 0;
  while (performance.now() - wallStart < spinMs) x += Math.sqrt(x + 1);
  spinSink = x;
  const wallUs = (performance.now() - wallStart) * 1000;
  const cpu = process.cpuUsage(cpuStart);
  const cpuUs = Math.max(1, cpu.user + cpu.system);
  const fromSpin = wallUs / cpuUs;
  const fromLoad = loadavg()[0] / Math.max(1, cpus().length);
  const slowness = Math.max(1, fromSpin, fromLoad);
  return Math.min(MAX_SLOWNESS, Number.isFinite(slowness) ? slowness : MAX_SLOWNESS);
}

let cached: { at: number; value: number } | undefined;

/** measureSlowness(), re-measured at most once a second. */
export function slowness(): number {
  const now = performance.now();
  if (cached === undefined || now - cached.at > 1000) cached = { at: now, value: measureSlowness() };
  return cached.value;
}

/** A wall-clock budget for the test's own waiting, scaled to the machine's present speed. */
export function budget(ms: number): number {
  return Math.round(ms * slowness());
}

/**
 * Resolves with the first value of `probe` other than undefined/false, polling every `poll_ms`;
 * rejects naming `what` once `budget(ms)` has passed. `probe` may throw to stop early.
 */
export async function until<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 5000,
  poll_ms = 10,
): Promise<T> {
  const allowed_ms = budget(ms);
  const deadline = performance.now() + allowed_ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value as T;
    if (performance.now() > deadline) throw new Error(`timed out after ${allowed_ms} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, poll_ms));
  }
}

/** until() for a condition. */
export async function waitFor(what: string, done: () => boolean, ms = 5000): Promise<void> {
  await until(what, done, ms);
}
