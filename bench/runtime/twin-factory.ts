import type { TwinLike } from '../../twin/api.ts';
import { Twin } from '../../twin/twin.ts';
import type { LoopConfig } from './messages.ts';

/** Builds the twin a run steps, inside the real-time loop process. */
export function createTwin(config: LoopConfig['twin']): Promise<TwinLike> {
  return Twin.fromFiles({ grid: config.grid, seed: config.seed, dt_s: config.dt_s });
}
