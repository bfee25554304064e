/**
 * Keeps SPEC.md's byte tables honest: in every payload table the offsets follow from the field
 * types without gaps, and the total is the payload length the codec uses.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { HEADER_LENGTH, MessageId, type MessageType } from './constants.ts';
import { PAYLOAD_LENGTH } from './messages/index.ts';

const spec = readFileSync(new URL('../SPEC.md', import.meta.url), 'utf8');

const SIZE: Record<string, number> = { u8: 1, char: 1, u16: 2, u32: 4, f32: 4, u48: 6, u64: 8, f64: 8 };

function typeSize(type: string): number {
  const m = /^(\w+?)(?:\[(\d+)\])?$/.exec(type.trim());
  if (!m || SIZE[m[1]] === undefined) throw new Error(`SPEC.md: unknown field type '${type}'`);
  return SIZE[m[1]] * (m[2] ? Number(m[2]) : 1);
}

/** Rows (offset, type) of the first table after `heading`. */
function tableAfter(heading: string): { offset: number; type: string }[] {
  const at = spec.indexOf(heading);
  if (at < 0) throw new Error(`SPEC.md: no heading '${heading}'`);
  const lines = spec.slice(at).split('\n');
  const start = lines.findIndex((l) => l.startsWith('|---'));
  const rows: { offset: number; type: string }[] = [];
  for (const line of lines.slice(start + 1)) {
    if (!line.startsWith('|')) break;
    const cells = line.split('|').map((c) => c.trim());
    rows.push({ offset: Number(cells[1]), type: cells[2] });
  }
  return rows;
}

function layoutLength(rows: { offset: number; type: string }[]): number {
  let next = 0;
  for (const row of rows) {
    expect(row.offset, `field at ${row.offset} (${row.type})`).toBe(next);
    next = row.offset + typeSize(row.type);
  }
  return next;
}

describe('SPEC.md byte tables', () => {
  it(`header table adds up to ${HEADER_LENGTH} bytes`, () => {
    expect(layoutLength(tableAfter('## 3. Header'))).toBe(HEADER_LENGTH);
  });

  const single: MessageType[] = [
    'HELLO',
    'MEASUREMENT',
    'DEVICE_STATE',
    'SETPOINT',
    'CONFIG',
    'HEARTBEAT',
    'TIME_SYNC',
    'ALARM',
  ];
  for (const type of single) {
    it(`${type} table matches the codec's ${PAYLOAD_LENGTH[type]}-byte layout`, () => {
      const id = `0x${MessageId[type].toString(16).toUpperCase().padStart(2, '0')}`;
      const heading = `### ${id} ${type}`;
      const rows = tableAfter(heading);
      expect(layoutLength(rows)).toBe(PAYLOAD_LENGTH[type]);
      expect(spec).toMatch(new RegExp(`### ${id} ${type}[^\\n]*\\(${PAYLOAD_LENGTH[type]} bytes\\)`));
    });
  }

  it('ACK / NACK table: NACK is the whole table, ACK its first 4 bytes', () => {
    const rows = tableAfter('### 0x09 ACK');
    expect(layoutLength(rows)).toBe(PAYLOAD_LENGTH.NACK);
    expect(layoutLength(rows.slice(0, 3))).toBe(PAYLOAD_LENGTH.ACK);
  });

  it('the signature block table adds up to 13 bytes', () => {
    expect(layoutLength(tableAfter('## 8. Authentication'))).toBe(13);
  });
});
