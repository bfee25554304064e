import { describe, expect, it } from 'vitest';
import { SimulatedLink } from './simulated-link.ts';

const m = (step: number, f_hz: number) => ({
  step,
  t_s: step * 0.01,
  vm_pu: 1,
  va_deg: 0,
  f_hz,
  rocof_hz_s: 0,
});

describe('SimulatedLink (the twin’s battery model behind the device mapping)', () => {
  it('settles on the IEEE 1547 frequency-droop output for an under-frequency, scaled into the twin', async () => {
    // 10 kW device, 5 % droop, 20 mHz deadband on IEEE 1547's 60 Hz basis (20·50/60 = 16.67 mHz at
    // 50 Hz), ×100 into the twin. At 49.8 Hz: (0.2 − 0.01667)/(0.05·50) = 7.333 % of rating
    // = 733.3 W → 0.07333 MW in the twin.
    const link = new SimulatedLink({
      id: 'sim',
      driver: 'simulated',
      powerScale: 100,
      simulated: { rating_w: 10_000, droop_pu: 0.05, soc0: 0.5 },
    });
    await link.open();
    for (let step = 0; step < 1000; step++) link.exchange(m(step, 49.8));
    expect(link.input().online).toBe(true);
    expect(link.input().p_mw).toBeCloseTo(0.07333, 4);
    expect(link.input().soc).toBeLessThan(0.5);
  });

  it('follows a set-point through the limits and stops on emergency stop', async () => {
    const link = new SimulatedLink({ id: 'sim', driver: 'simulated', limits: { pMax_w: 2000 } });
    await link.open();
    expect(link.setpoint({ p_mw: 0.005 }).target.p_w).toBe(2000);
    for (let step = 0; step < 1000; step++) link.exchange(m(step, 50));
    expect(link.input().p_mw).toBeCloseTo(0.002, 4);
    link.emergencyStop();
    link.exchange(m(1000, 50));
    expect(link.input().p_mw).toBe(0);
  });
});
