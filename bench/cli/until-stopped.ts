import type { DemoStopResult, RunningDemo } from '../demo.ts';

/**
 * Lets the bench run until it ends on its own or the user stops it (SIGINT, SIGTERM), then stops it;
 * says which happened.
 */
export async function runUntilStopped(
  demo: Pick<RunningDemo, 'finished' | 'stop'>,
): Promise<{ outcome: 'ended' | 'signal'; result: DemoStopResult }> {
  const stopOnSignal = new Promise<'signal'>((resolveSignal) => {
    const onSignal = () => resolveSignal('signal');
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  const outcome = await Promise.race([demo.finished, stopOnSignal]);
  return { outcome, result: await demo.stop() };
}
