import { describe, expect, it } from 'vitest';
import { crc16modbus } from './modbus-rtu.ts';
import { encodePoint, encodeRaw, modelLayout, readPoint, readString, rtuFrameGap_ms } from './sunspec-map.ts';

describe('SunSpec model layouts from the official definitions', () => {
  it('places points where the SunSpec specification puts them', () => {
    // Model 701: ID, L, ACType, St, InvSt, ConnSt, Alrm (2), DERMode (2), W → offset 10.
    const m701 = modelLayout(701);
    expect(m701.points.get('W')?.offset).toBe(10);
    expect(m701.points.get('Var')?.offset).toBe(12);
    expect(m701.length).toBe(153);
    // Model 1: ID, L, Mn (16), Md (16), Opt (8), Vr (8), SN (16), DA → 2+64 = 66.
    expect(modelLayout(1).points.get('DA')?.offset).toBe(66);
    expect(modelLayout(1).length).toBe(66);
    // Lengths published in the model list: 702 L=50, 704 L=65 (with its four fixed PF groups), 802 L=62,
    // 711 L=12 + 10·NCtl (repeating groups excluded).
    expect(modelLayout(702).length).toBe(50);
    expect(modelLayout(704).length).toBe(65);
    expect(modelLayout(802).length).toBe(62);
    expect(modelLayout(711).length).toBe(12);
  });

  it('rejects a model that is not bundled, naming it', () => {
    expect(() => modelLayout(99)).toThrow(/model 99/);
  });

  it('decodes scaled, signed and not-implemented values', () => {
    const m = modelLayout(701);
    const regs = new Array(m.length + 2).fill(0);
    const sf = m.points.get('W_SF')!;
    regs[sf.offset] = 0x10000 - 1; // W_SF = -1
    regs[m.points.get('W')!.offset] = 0x10000 - 1234; // -1234 × 10^-1
    expect(readPoint(m, regs, 'W')).toBeCloseTo(-123.4, 9);
    regs[m.points.get('W')!.offset] = 0x8000; // int16 "not implemented"
    expect(readPoint(m, regs, 'W')).toBeUndefined();
    // uint32 Hz with Hz_SF = -2: 5001 → 50.01 Hz.
    regs[m.points.get('Hz_SF')!.offset] = 0x10000 - 2;
    const hz = m.points.get('Hz')!;
    regs[hz.offset] = 0;
    regs[hz.offset + 1] = 5001;
    expect(readPoint(m, regs, 'Hz')).toBeCloseTo(50.01, 9);
  });

  it('encodes int32 set-points big-endian word order, and refuses values that do not fit', () => {
    const m = modelLayout(704);
    const regs = new Array(m.length + 2).fill(0);
    expect(encodePoint(m, regs, 'WSet', -2)).toEqual([0xffff, 0xfffe]);
    expect(encodePoint(m, regs, 'WSet', 70000)).toEqual([1, 70000 - 65536]);
    expect(() => encodeRaw(m.points.get('WSetEna')!, 70000)).toThrow(RangeError);
  });

  it('reads model 1 strings', () => {
    const m = modelLayout(1);
    const regs = new Array(m.length + 2).fill(0);
    const mn = m.points.get('Mn')!;
    regs[mn.offset] = ('g'.charCodeAt(0) << 8) | 'l'.charCodeAt(0);
    regs[mn.offset + 1] = 'p'.charCodeAt(0) << 8;
    expect(readString(regs, mn)).toBe('glp');
  });
});

describe('Modbus RTU', () => {
  it('t3.5 is 3.5 eleven-bit characters up to 19200 baud and a fixed 1.75 ms above', () => {
    expect(rtuFrameGap_ms(9600)).toBeCloseTo(4.0104, 3);
    expect(rtuFrameGap_ms(19200)).toBeCloseTo(2.0052, 3);
    expect(rtuFrameGap_ms(38400)).toBe(1.75);
    expect(rtuFrameGap_ms(115200)).toBe(1.75);
    expect(() => rtuFrameGap_ms(0)).toThrow(TypeError);
  });

  it('CRC-16/MODBUS matches the specification example (01 03 00 00 00 0A → CRC bytes C5 CD)', () => {
    const crc = crc16modbus(Uint8Array.from([0x01, 0x03, 0x00, 0x00, 0x00, 0x0a]));
    expect([crc & 0xff, crc >> 8]).toEqual([0xc5, 0xcd]);
    // The catalogue check value of CRC-16/MODBUS over "123456789" is 0x4B37.
    expect(crc16modbus(new TextEncoder().encode('123456789'))).toBe(0x4b37);
  });
});
