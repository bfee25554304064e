/**
 * Aggregate flexibility: what the VPP as a whole can deliver at a time of day, from its members'
 * limits, availability profiles, live states (online, tripped, state of charge) and ramps.
 */
import type { TwinState } from '../twin/api.ts';
import type { VppMember } from './portfolio.ts';

/** A member's live condition as the VPP last saw it. */
export interface MemberStatus {
  online: boolean;
  p_mw?: number;
  /** Storage state of charge, 0..1. */
  soc?: number;
}

export interface MemberLimits {
  pmin_mw: number;
  pmax_mw: number;
}

export interface Flexibility {
  pmin_mw: number;
  pmax_mw: number;
  qmin_mvar: number;
  qmax_mvar: number;
  /** Sum of the members' ramp limits, MW/s (Infinity when one member has none). */
  rampUp_mw_s: number;
  rampDown_mw_s: number;
  /** Energy stored in member storage above its minimum, and the room left below its maximum, MWh. */
  storedEnergy_mwh: number;
  storageRoom_mwh: number;
  membersOnline: number;
  members: number;
}

/** Availability factor of a profile at an hour of day (linear between hourly points, wraps at 24 h). */
export function availabilityAt(profile: readonly number[] | undefined, hourOfDay: number): number {
  if (!profile) return 1;
  const h = ((hourOfDay % 24) + 24) % 24;
  const i = Math.floor(h);
  const frac = h - i;
  return profile[i]! * (1 - frac) + profile[(i + 1) % 24]! * frac;
}

/**
 * What one member can do now: its limits scaled by availability, zero when offline, storage
 * limited by the energy it holds over `interval_h` (Infinity: no energy limit, the schedule's energy
 * rows take care of it). Without a live status the declared limits apply.
 */
export function memberLimits(
  member: VppMember,
  hourOfDay: number,
  status?: MemberStatus,
  interval_h = 0.25,
): MemberLimits {
  if (status && !status.online) return { pmin_mw: 0, pmax_mw: 0 };
  let { pmin_mw, pmax_mw } = member;
  if (member.availability) {
    const available = member.pmax_mw * availabilityAt(member.availability, hourOfDay);
    // Live output shows at least what the weather allows now (it may be curtailed below it, so
    // the profile's estimate stays the ceiling otherwise).
    pmax_mw = Math.max(available, status?.p_mw ?? 0);
    pmin_mw = Math.min(pmin_mw, pmax_mw);
  }
  if (member.capacity_mwh !== undefined && Number.isFinite(interval_h)) {
    // Without a live state of charge, the middle of the allowed band (as the schedule assumes).
    const soc = status?.soc ?? (member.soc_min + member.soc_max) / 2;
    const dischargeable = ((soc - member.soc_min) * member.capacity_mwh) / interval_h;
    const chargeable = ((member.soc_max - soc) * member.capacity_mwh) / interval_h;
    pmax_mw = Math.min(pmax_mw, Math.max(dischargeable, 0));
    pmin_mw = Math.max(pmin_mw, -Math.max(chargeable, 0));
  }
  return { pmin_mw, pmax_mw };
}

/** The members' statuses from the twin's published state (DERs by device id; loads always online). */
export function statusesFrom(
  members: readonly VppMember[],
  state: Readonly<TwinState>,
): Map<string, MemberStatus> {
  const out = new Map<string, MemberStatus>();
  for (const m of members) {
    if (m.kind === 'load') {
      out.set(m.id, { online: true });
      continue;
    }
    const d = state.devices[m.id];
    if (!d) {
      out.set(m.id, { online: false });
      continue;
    }
    out.set(m.id, { online: d.online && !d.tripped, p_mw: d.p_mw * m.share, soc: d.soc });
  }
  return out;
}

/** The VPP's aggregate flexibility at one time of day. */
export function aggregateFlexibility(
  members: readonly VppMember[],
  hourOfDay: number,
  statuses?: ReadonlyMap<string, MemberStatus>,
  interval_h = 0.25,
): Flexibility {
  const f: Flexibility = {
    pmin_mw: 0,
    pmax_mw: 0,
    qmin_mvar: 0,
    qmax_mvar: 0,
    rampUp_mw_s: 0,
    rampDown_mw_s: 0,
    storedEnergy_mwh: 0,
    storageRoom_mwh: 0,
    membersOnline: 0,
    members: members.length,
  };
  for (const m of members) {
    const status = statuses?.get(m.id);
    if (status && !status.online) continue;
    f.membersOnline++;
    const lim = memberLimits(m, hourOfDay, status, interval_h);
    f.pmin_mw += lim.pmin_mw;
    f.pmax_mw += lim.pmax_mw;
    f.qmin_mvar -= m.qmax_mvar;
    f.qmax_mvar += m.qmax_mvar;
    const ramp = m.ramp_mw_s ?? Number.POSITIVE_INFINITY;
    f.rampUp_mw_s += ramp;
    f.rampDown_mw_s += ramp;
    if (m.capacity_mwh !== undefined) {
      const soc = status?.soc ?? (m.soc_min + m.soc_max) / 2;
      f.storedEnergy_mwh += Math.max(soc - m.soc_min, 0) * m.capacity_mwh;
      f.storageRoom_mwh += Math.max(m.soc_max - soc, 0) * m.capacity_mwh;
    }
  }
  return f;
}

/** Aggregate flexibility over a horizon of `intervals` steps of `interval_h` from `startHour`. */
export function flexibilityOverTime(
  members: readonly VppMember[],
  startHour: number,
  intervals: number,
  interval_h: number,
  statuses?: ReadonlyMap<string, MemberStatus>,
): Flexibility[] {
  // Only the first interval knows the live state; later ones use the declared profiles.
  return Array.from({ length: intervals }, (_, t) =>
    aggregateFlexibility(members, startHour + t * interval_h, t === 0 ? statuses : undefined, interval_h),
  );
}
