import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { exchangeFrameBytes, wireTimeMarkdown, wireTimeTable } from './wire-time.ts';

describe('wire-time table', () => {
  it('uses the exchange frame sizes: 9 + 28 + 4 bytes, one COBS byte and the delimiter', () => {
    expect(exchangeFrameBytes()).toEqual({ measurement: 43, deviceState: 43, signedExtra: 13 });
  });

  it('matches hand arithmetic at 115200 baud (8N1): 86 bytes × 10 bit / 115200 bit/s', () => {
    const [row] = wireTimeTable([115200]);
    expect(row.exchangeUs).toBeCloseTo((86 * 10 * 1e6) / 115200, 9);
    expect(row.maxRateHz).toBeCloseTo(115200 / 860, 9);
    expect(row.signedMaxRateHz).toBeCloseTo(115200 / 1120, 9);
  });

  it('SPEC.md holds the current table', () => {
    const spec = readFileSync(new URL('../SPEC.md', import.meta.url), 'utf8');
    const begin = spec.indexOf('<!-- wire-time-table:begin');
    const end = spec.indexOf('<!-- wire-time-table:end -->');
    const table = spec.slice(spec.indexOf('\n', begin) + 1, end).trim();
    expect(table).toBe(wireTimeMarkdown());
  });

  it('SPEC.md states the CRC check value the codec computes', async () => {
    const { crc32c } = await import('./crc32c.ts');
    const spec = readFileSync(new URL('../SPEC.md', import.meta.url), 'utf8');
    const value = crc32c(new TextEncoder().encode('123456789')).toString(16).toUpperCase();
    expect(spec).toContain(`CRC-32C("123456789") = 0x${value}`);
  });
});
