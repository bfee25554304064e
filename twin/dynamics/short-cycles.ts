/**
 * Test support: judges a recorded set-point series for limit cycles, independently of the
 * scenario assertion `no-oscillation` (which follows the set-point step by step with a zigzag).
 * Here the series is cut into one-minute moves; moves smaller than `swing` are ignored; an
 * oscillation of period T reverses direction every T/2, so two reversals closer than
 * `minPeriod_s / 2` are a cycle shorter than `minPeriod_s`.
 */
export function shortCycles(
  series: readonly number[],
  every_s: number,
  swing: number,
  minPeriod_s: number,
): number[] {
  const per = Math.max(1, Math.round(60 / every_s));
  const moves: { t_s: number; d: number }[] = [];
  for (let i = per; i < series.length; i += per) {
    const d = series[i] - series[i - per];
    if (Math.abs(d) >= swing) moves.push({ t_s: i * every_s, d });
  }
  const reversals: number[] = [];
  for (let k = 1; k < moves.length; k++)
    if (Math.sign(moves[k].d) !== Math.sign(moves[k - 1].d)) reversals.push(moves[k].t_s);
  return reversals.filter((t, k) => k > 0 && t - reversals[k - 1] < minPeriod_s / 2);
}
