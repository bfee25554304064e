/** Reading a DER's `params` from the grid file: numbers with defaults, and its IEEE 1547 settings. */
import { defaultIeee1547, type Ieee1547Config } from '../ieee1547/functions.ts';
import type { PerformanceCategory } from '../ieee1547/settings.ts';

/** `params[key]` when it is a finite number, else the fallback (the library default). */
export function numberParam(params: Record<string, unknown>, key: string, fallback: number): number {
  const v = params[key];
  return typeof v === 'number' && Number.isFinite(v) ? v : fallback;
}

/** IEEE 1547 settings of one DER: category from params.category (default II; synchronous: I). */
export function ieee1547For(der: { params: Record<string, unknown> }, synchronous: boolean): Ieee1547Config {
  const cat = der.params.category;
  const category: PerformanceCategory =
    cat === 'I' || cat === 'II' || cat === 'III' ? cat : synchronous ? 'I' : 'II';
  const cfg = defaultIeee1547(category);
  const p = der.params;
  if (synchronous) cfg.rocofTripDelay_s = 0;
  cfg.rocofTripDelay_s = numberParam(p, 'rocofTripDelay_s', cfg.rocofTripDelay_s);
  cfg.enterService.delay_s = numberParam(p, 'enterServiceDelay_s', cfg.enterService.delay_s);
  cfg.enterService.rampTime_s = numberParam(p, 'enterServiceRamp_s', cfg.enterService.rampTime_s);
  cfg.frequencyDroop.enabled = p.frequencyWatt !== false;
  cfg.voltVar.enabled = p.voltVar !== false;
  return cfg;
}
