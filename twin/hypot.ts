/**
 * √(a² + b²) without allocating: `Math.hypot` is a variadic builtin that allocates an array of
 * its arguments on every call (tens of bytes per call on the step path). This is V8's algorithm
 * (normalise by the larger magnitude, then a Kahan-compensated sum, whose compensation is exactly
 * 0 for two terms), so the result is bit-for-bit that of `Math.hypot(a, b)` and the twin's
 * trajectories do not change (twin/hypot.test.ts checks it).
 */
export function hypot2(a: number, b: number): number {
  const x = Math.abs(a);
  const y = Math.abs(b);
  if (x === Number.POSITIVE_INFINITY || y === Number.POSITIVE_INFINITY) return Number.POSITIVE_INFINITY;
  if (Number.isNaN(x) || Number.isNaN(y)) return Number.NaN;
  const max = Math.max(x, y);
  if (max === 0) return 0;
  const nx = x / max;
  const ny = y / max;
  return Math.sqrt(nx * nx + ny * ny) * max;
}
