/** Publish stage: the step's TwinState (arrays reused). */
import type { TwinCore } from '../core/state.ts';
import { DEG } from '../core/types.ts';
import { BatteryUnit } from '../der/battery.ts';
import { measureHardware, measurePcc } from './metering.ts';

export function publish(tw: TwinCore): void {
  const st = tw.state;
  st.t_s = tw.t;
  st.step = tw.stepCount;
  const va = st.va_deg;
  for (let r = 0; r < tw.islands.length; r++) {
    const rt = tw.islands[r];
    const s = rt.state;
    s.energised = rt.energised;
    s.gridConnected = rt.gridConnected;
    s.f_hz = rt.energised ? (rt.gridConnected ? tw.mainGrid.f_hz : rt.freq.f_hz) : 0;
    s.rocof_hz_s = rt.energised ? rt.freq.rocof_hz_s : 0;
    const theta = (rt.gridConnected ? tw.mainGrid.theta_rad : rt.freq.theta_rad) * DEG;
    for (let i = 0; i < rt.buses.length; i++) {
      const b = rt.buses[i];
      va[b] = rt.energised ? tw.pf.va_deg[b] + theta : 0;
    }
  }
  const devices = st.devices;
  for (let i = 0; i < tw.units.length; i++) {
    const u = tw.units[i];
    const d = devices[u.id];
    d.p_mw = u.on ? u.io.p_mw : 0;
    d.q_mvar = u.on ? u.io.q_mvar : 0;
    d.online = u.on;
    d.tripped = u.tripped;
    if (u instanceof BatteryUnit) d.soc = u.soc;
  }
  for (let i = 0; i < tw.hardware.length; i++) {
    const h = tw.hardware[i];
    const d = devices[h.id];
    d.p_mw = h.pDrive_mw;
    d.q_mvar = h.q_mvar;
    d.online = h.online;
    if (h.soc !== undefined) d.soc = h.soc;
    measureHardware(tw, h);
  }
  const fidStates = tw.state.fids;
  for (let k = 0; k < tw.fids.length; k++) {
    const f = tw.fids[k];
    const d = devices[f.id];
    d.p_mw = f.transfer_mw;
    d.q_mvar = f.qB_mvar;
    d.online = f.inService;
    if (fidStates) {
      const s = fidStates[f.id];
      s.p_a_mw = f.pA_mw;
      s.p_b_mw = f.pB_mw;
      s.loss_mw = f.losses_mw;
    }
  }
  for (let m = 0; m < tw.pccMeters.length; m++) measurePcc(tw, tw.pccMeters[m]);
}
