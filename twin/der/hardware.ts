import { DerUnit, type UnitContext } from './unit.ts';

/** What the twin does with a hardware device's power while its link is down. */
export type HardwareFallback = 'hold' | 'zero';

/**
 * A real device (controller board, SunSpec inverter) placed at a bus: its injection comes from
 * `DeviceInput`s each exchange, through the command channel. It contributes no inertia: whatever
 * the board does is seen by the twin only as measured P/Q.
 */
export class HardwareDevice extends DerUnit {
  commanded_p_mw = 0;
  commanded_q_mvar = 0;
  online = false;
  soc: number | undefined;
  private readonly ratingMw: number;

  constructor(
    id: string,
    rating_mva: number,
    readonly fallback: HardwareFallback,
  ) {
    super(id, 'hardware', 'grid-following', rating_mva);
    this.ratingMw = rating_mva;
  }

  get reference_mw(): number {
    return this.commanded_p_mw;
  }

  setReference(): void {
    // The hardware decides its own output; the EMS cannot set it through the twin.
  }

  get pmax_mw(): number {
    return this.ratingMw;
  }

  get pmin_mw(): number {
    return -this.ratingMw;
  }

  /** Applies one device report (already through the command channel). */
  receive(p_mw: number, q_mvar: number, online: boolean, soc: number | undefined): void {
    this.online = online;
    if (online) {
      this.commanded_p_mw = p_mw;
      this.commanded_q_mvar = q_mvar;
      if (soc !== undefined) this.soc = soc;
    } else if (this.fallback === 'zero') {
      this.commanded_p_mw = 0;
      this.commanded_q_mvar = 0;
    }
  }

  advance(_ctx: UnitContext, _dt_s: number): void {
    this.pDrive_mw = this.commanded_p_mw;
    this.q_mvar = this.commanded_q_mvar;
  }
}
