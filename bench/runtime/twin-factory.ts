import { loadGridFile } from '../../twin/files.ts';
import { type HardwareSpec, Twin } from '../../twin/twin.ts';
import type { DeviceLinkConfig, LoopConfig } from './messages.ts';

/**
 * Builds the twin a run steps, inside the real-time loop process. A device mapping with a `bus`
 * places (or moves) the hardware device there; its `fallback` 'hold' / 'zero' is the twin's.
 */
export async function createTwin(
  config: LoopConfig['twin'],
  devices: readonly DeviceLinkConfig[] = [],
): Promise<Twin> {
  const loaded = await loadGridFile(config.grid);
  const specs = new Map<string, HardwareSpec>();
  for (const spec of loaded.config.hardware ?? []) specs.set(spec.id, spec);
  for (const d of devices) {
    const existing = specs.get(d.id);
    if (!existing && d.bus === undefined) {
      throw new TypeError(
        `device '${d.id}': not a hardware device of ${config.grid} (its twin.hardware list); give its bus in the mapping`,
      );
    }
    specs.set(d.id, {
      id: d.id,
      bus: d.bus ?? existing!.bus,
      rating_mva: d.rating_mva ?? existing?.rating_mva,
      // 'trip': the unit's output drops to zero while its link is down.
      fallback: d.fallback === 'trip' ? 'zero' : existing?.fallback,
    });
  }
  return new Twin(loaded.grid, {
    seed: config.seed,
    dt_s: config.dt_s,
    config: { ...loaded.config, hardware: [...specs.values()] },
  });
}
