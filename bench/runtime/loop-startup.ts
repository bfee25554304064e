/** What the loop process does before its clock starts: real-time scheduling and JIT warm-up. */
import type { DeviceInput } from '../../twin/api.ts';
import type { LoopConfig } from './messages.ts';
import { createRunTwin } from './twin-factory.ts';

/** chrt/taskset on this process; returns what was done or why not. */
export async function applyRealtimeScheduling(realtime: LoopConfig['realtime']): Promise<string[]> {
  if (!realtime || process.platform !== 'linux') return [];
  const { execFile } = await import('node:child_process');
  const run = (cmd: string, args: string[]) =>
    new Promise<string>((resolve) =>
      execFile(cmd, args, (err, _out, stderr) =>
        resolve(err ? `${cmd} failed: ${(stderr || err.message).trim()}` : `${cmd} ${args.join(' ')}: ok`),
      ),
    );
  const notes: string[] = [];
  if (realtime.cpu !== undefined)
    notes.push(await run('taskset', ['-p', '-c', String(realtime.cpu), String(process.pid)]));
  if (realtime.priority !== undefined) {
    notes.push(await run('chrt', ['-f', '-p', String(realtime.priority), String(process.pid)]));
  }
  return notes;
}

/**
 * Steps a throwaway copy of the twin before the clock starts, so V8 compiles the hot paths (power
 * flow, dynamics) then rather than during the first real-time steps, which would otherwise start
 * hundreds of milliseconds late. The run's own twin is untouched (determinism).
 */
export async function warmUp(config: LoopConfig): Promise<void> {
  const steps = config.warmupSteps ?? 500;
  if (steps <= 0) return;
  const { twin } = await createRunTwin(config.twin, config.devices);
  const inputs: DeviceInput[] = config.devices.map((d) => ({
    deviceId: d.id,
    p_mw: 0,
    q_mvar: 0,
    online: false,
  }));
  for (let i = 0; i < steps; i++) twin.step(inputs);
}
