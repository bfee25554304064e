/** Metering stage: PCC power per microgrid, hardware measurement and command channels. */
import type { BusMeasurement, DeviceInput } from '../api.ts';
import type { TwinCore } from '../core/state.ts';
import { NO_INDICES, type PccMeter } from '../core/types.ts';
import type { HardwareDevice } from '../der/hardware.ts';

/** Finds the buses, loads, units and branches a PCC switch feeds (on a topology change). */
export function locatePccMeter(tw: TwinCore, meter: PccMeter): void {
  const b = meter.breaker;
  meter.measurable = true;
  if (b?.kind !== 'switch' || meter.side < 0) {
    meter.buses = meter.loads = meter.units = meter.branches = NO_INDICES;
    return;
  }
  const net = tw.pf.net;
  const group = [meter.side];
  const other = meter.side === b.to ? b.from : b.to;
  for (let g = 0; g < group.length; g++) {
    for (let k = 0; k < net.switchIds.length; k++) {
      if (k === b.index || !net.switchClosed[k]) continue;
      const next =
        net.switchFrom[k] === group[g]
          ? net.switchTo[k]
          : net.switchTo[k] === group[g]
            ? net.switchFrom[k]
            : -1;
      if (next >= 0 && !group.includes(next)) group.push(next);
    }
  }
  if (group.includes(other)) meter.measurable = false;
  const inGroup = new Set(group);
  const branches: number[] = [];
  const ends: number[] = [];
  for (let k = 0; k < net.branchIds.length; k++) {
    const f = inGroup.has(net.branchFrom[k]);
    const t = inGroup.has(net.branchTo[k]);
    if (!f && !t) continue;
    branches.push(k);
    ends.push(f && t ? 2 : f ? 1 : 0);
  }
  const loads: number[] = [];
  for (let l = 0; l < net.loadIds.length; l++) if (inGroup.has(net.loadBus[l])) loads.push(l);
  const units: number[] = [];
  for (let u = 0; u < net.unitIds.length; u++) if (inGroup.has(net.unitBus[u])) units.push(u);
  meter.buses = Int32Array.from(group);
  meter.loads = Int32Array.from(loads);
  meter.units = Int32Array.from(units);
  meter.branches = Int32Array.from(branches);
  meter.branchEnds = Uint8Array.from(ends);
}

/**
 * PCC power into the microgrid from the solved power flow (import positive), its EMS mode and
 * whether it is islanded. Keeps the last values while the island's solve has failed.
 */
export function measurePcc(tw: TwinCore, meter: PccMeter): void {
  const st = meter.state;
  st.ems = tw.emsByMicrogrid.get(meter.microgrid)!.mode;
  const rt = meter.side >= 0 ? tw.islands[tw.busIslandRuntime[meter.side]] : undefined;
  st.islanded = !rt?.gridConnected;
  const b = meter.breaker;
  if (!b || !rt?.energised || !tw.isBreakerClosed(b.id) || !meter.measurable) {
    st.pcc_p_mw = 0;
    st.pcc_q_mvar = 0;
    return;
  }
  const pf = tw.pf;
  const net = pf.net;
  const flow = tw.flow;
  let p = 0;
  let q = 0;
  if (b.kind === 'branch') {
    // Into the microgrid = out of the branch at the microgrid's end.
    if (!pf.branchFlow(b.index, flow)) return;
    const atFrom = meter.side === b.from;
    p = -(atFrom ? flow.pf_mw : flow.pt_mw);
    q = -(atFrom ? flow.qf_mvar : flow.qt_mvar);
  } else {
    for (let i = 0; i < meter.branches.length; i++) {
      const k = meter.branches[i];
      if (!net.branchInService[k]) continue;
      if (!pf.branchFlow(k, flow)) return;
      const end = meter.branchEnds[i];
      if (end !== 0) {
        p += flow.pf_mw;
        q += flow.qf_mvar;
      }
      if (end !== 1) {
        p += flow.pt_mw;
        q += flow.qt_mvar;
      }
    }
    const base = net.baseMVA;
    for (let i = 0; i < meter.buses.length; i++) {
      const bus = meter.buses[i];
      const v2 = pf.vm_pu[bus] * pf.vm_pu[bus];
      p += net.busShuntG[bus] * v2 * base - net.busExtraP_mw[bus];
      q -= net.busShuntB[bus] * v2 * base + net.busExtraQ_mvar[bus];
    }
    for (let i = 0; i < meter.loads.length; i++) {
      const l = meter.loads[i];
      if (!net.loadInService[l]) continue;
      p += net.loadP_mw[l];
      q += net.loadQ_mvar[l];
    }
    for (let i = 0; i < meter.units.length; i++) {
      const u = meter.units[i];
      if (!net.unitInService[u]) continue;
      p -= pf.unitPOut_mw[u];
      q -= pf.unitQOut_mvar[u];
    }
  }
  // Under current limiting every power of the island scales with the voltage squared.
  const s2 = rt.vScale * rt.vScale;
  st.pcc_p_mw = p * s2;
  st.pcc_q_mvar = q * s2;
}

export function measureHardware(tw: TwinCore, h: HardwareDevice): void {
  const rt = tw.islands[tw.busIslandRuntime[h.busIndex]];
  const m = tw.measurements.get(h.id)!;
  const ch = tw.measureChannels.get(h.id)!;
  const energised = !!rt?.energised;
  const f = energised ? (rt.gridConnected ? tw.mainGrid.f_hz : rt.freq.f_hz) : 0;
  m.vm_pu = ch[0].process(energised ? tw.vm[h.busIndex] : 0, tw.t);
  m.va_deg = ch[1].process(tw.state.va_deg[h.busIndex], tw.t);
  m.f_hz = ch[2].process(f, tw.t);
  m.rocof_hz_s = ch[3].process(energised ? rt.freq.rocof_hz_s : 0, tw.t);
  m.t_s = tw.t;
  m.step = tw.stepCount;
}

export function applyInputs(tw: TwinCore, inputs: readonly DeviceInput[]): void {
  for (let i = 0; i < inputs.length; i++) {
    const input = inputs[i];
    const dev = tw.hardwareById.get(input.deviceId);
    if (!dev) continue;
    const ch = tw.commandChannels.get(input.deviceId)!;
    const p = Number.isFinite(input.p_mw) ? ch[0].process(input.p_mw, tw.t) : dev.commanded_p_mw;
    const q = Number.isFinite(input.q_mvar) ? ch[1].process(input.q_mvar, tw.t) : dev.commanded_q_mvar;
    dev.receive(p, q, input.online, input.soc);
  }
}

export function measurementFor(tw: TwinCore, deviceId: string): BusMeasurement {
  const m = tw.measurements.get(deviceId);
  if (m) return m;
  const unit = tw.unitById.get(deviceId);
  if (!unit) throw new TypeError(`measurementFor: unknown device '${deviceId}'`);
  const rt = tw.islands[tw.busIslandRuntime[unit.busIndex]];
  const energised = !!rt?.energised;
  return {
    vm_pu: energised ? tw.vm[unit.busIndex] : 0,
    va_deg: tw.state.va_deg[unit.busIndex],
    f_hz: energised ? (rt.gridConnected ? tw.mainGrid.f_hz : rt.freq.f_hz) : 0,
    rocof_hz_s: energised ? rt.freq.rocof_hz_s : 0,
    t_s: tw.t,
    step: tw.stepCount,
  };
}
