/** Faults: shunt faults applied by command and cleared on time. */
import type { TwinCore } from '../core/state.ts';

export function updateFaults(tw: TwinCore): void {
  for (let i = tw.faults.length - 1; i >= 0; i--) {
    if (tw.t + 1e-9 >= tw.faults[i].clearAt_s) clearFault(tw, i, tw.faults[i].open);
  }
}

export function clearFault(tw: TwinCore, i: number, open: string[]): void {
  const f = tw.faults[i];
  tw.pf.net.busShuntG[f.bus] -= f.g_pu;
  tw.pf.net.busShuntB[f.bus] -= f.b_pu;
  tw.pf.invalidateTopology();
  tw.markStructure('fault-cleared');
  tw.faults.splice(i, 1);
  for (const id of open) tw.setBreaker(id, false);
  tw.emit(
    'fault-cleared',
    `fault at bus ${tw.pf.net.busIds[f.bus]} cleared${open.length ? `, opened ${open.join(', ')}` : ''}`,
    tw.pf.net.busIds[f.bus],
  );
}
