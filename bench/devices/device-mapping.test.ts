import { describe, expect, it } from 'vitest';
import {
  DeviceMappingError,
  deviceMappingSchema,
  mergeDeviceMappings,
  parseDeviceMapping,
  parseDeviceOption,
} from './device-mapping.ts';

describe('device mapping file', () => {
  it('reads bus, scaling, sign convention, fallback, limits and signing', () => {
    const devices = parseDeviceMapping(
      [
        'devices:',
        '  - id: bess-hw',
        '    path: /dev/ttyACM0',
        '    bus: 18',
        '    powerScale: 100',
        '    signConvention: load',
        '    fallback: simulated',
        '    limits: { pMax_w: 5000, pRate_w_s: 1000 }',
        `    signing: { keyHex: ${'ab'.repeat(32)}, requireSigned: true }`,
        '  - { id: pv-lab, driver: sunspec, path: /dev/ttyUSB0, baud: 19200 }',
      ].join('\n'),
      'run.yaml',
    );
    expect(devices[0]).toMatchObject({
      id: 'bess-hw',
      bus: '18',
      powerScale: 100,
      signConvention: 'load',
      fallback: 'simulated',
    });
    expect(devices[1]).toMatchObject({ driver: 'sunspec', baud: 19200 });
  });

  it('names file, line and JSON path for a bad value, an unknown key and a duplicate', () => {
    const bad = (text: string) => {
      try {
        parseDeviceMapping(text, 'run.yaml');
      } catch (err) {
        expect(err).toBeInstanceOf(DeviceMappingError);
        return (err as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad('devices:\n  - id: a\n    path: /dev/x\n    powerScale: 0\n')).toMatch(
      /run\.yaml:4 \(at \/devices\/0\/powerScale\)/,
    );
    expect(bad('devices:\n  - id: a\n    path: /dev/x\n    scale: 3\n')).toMatch(
      /run\.yaml:4 \(at \/devices\/0\/scale\): unknown key 'scale'/,
    );
    expect(bad('devices:\n  - { id: a, path: /x }\n  - { id: a, path: /y }\n')).toMatch(
      /run\.yaml:3 .*mapped twice/,
    );
    expect(bad('devices:\n  - { id: a }\n')).toMatch(/needs a port path/);
    expect(bad('devices: [\n')).toMatch(/^run\.yaml:\d+:/);
    expect(bad('devices:\n  - { id: a, path: /x, signing: { keyHex: abc } }\n')).toMatch(/keyHex/);
  });
});

describe('--device option', () => {
  it('parses name=[driver:]port[:baud]', () => {
    expect(parseDeviceOption('bess-hw=/dev/ttyACM0')).toEqual({
      id: 'bess-hw',
      driver: 'firmware',
      path: '/dev/ttyACM0',
    });
    expect(parseDeviceOption('pv=sunspec:/dev/ttyUSB0:19200')).toEqual({
      id: 'pv',
      driver: 'sunspec',
      path: '/dev/ttyUSB0',
      baud: 19200,
    });
    expect(parseDeviceOption('b=simulated')).toEqual({ id: 'b', driver: 'simulated' });
    expect(() => parseDeviceOption('nonsense')).toThrow(/expected name=/);
    expect(() => parseDeviceOption('a=/dev/x:9')).toThrow(/baud 9/);
  });

  it('overrides the file’s entry of the same id and keeps the rest of it', () => {
    const merged = mergeDeviceMappings(
      [{ id: 'bess-hw', path: '/dev/old', powerScale: 50 }],
      [parseDeviceOption('bess-hw=/dev/new:115200')],
    );
    expect(merged).toEqual([
      { id: 'bess-hw', driver: 'firmware', path: '/dev/new', baud: 115200, powerScale: 50 },
    ]);
  });
});

describe('device mapping schema (device-mapping.schema.json)', () => {
  const bad = (text: string) => {
    try {
      parseDeviceMapping(text, 'lab.yaml');
    } catch (err) {
      expect(err).toBeInstanceOf(DeviceMappingError);
      return (err as Error).message;
    }
    throw new Error('accepted');
  };

  it('is a draft-07 schema file that documents every key of a device', () => {
    const schema = deviceMappingSchema() as {
      $schema: string;
      definitions: { device: { properties: Record<string, { description?: string }> } };
    };
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    const keys = Object.entries(schema.definitions.device.properties);
    expect(keys.map(([k]) => k)).toEqual(
      expect.arrayContaining([
        'id',
        'driver',
        'path',
        'bus',
        'powerScale',
        'signConvention',
        'fallback',
        'limits',
      ]),
    );
    for (const [key, p] of keys) expect(p.description, key).toBeTruthy();
  });

  it('names file:line and JSON path for enums (listing the allowed values), types and driver-specific rules', () => {
    expect(bad('devices:\n  - id: a\n    path: /x\n    fallback: hold\n')).toBe(
      'lab.yaml:4 (at /devices/0/fallback): must be one of "twin", "simulated", "trip"',
    );
    expect(bad('devices:\n  - id: a\n    path: /x\n    driver: modbus\n')).toMatch(
      /^lab\.yaml:4 \(at \/devices\/0\/driver\): must be one of "firmware", "sunspec", "simulated"$/,
    );
    expect(bad('devices:\n  - id: a\n    path: /x\n    baud: fast\n')).toMatch(
      /^lab\.yaml:4 \(at \/devices\/0\/baud\): must be integer$/,
    );
    // A Modbus unit id is 1…247; signing belongs to the firmware protocol.
    expect(
      bad('devices:\n  - id: pv\n    driver: sunspec\n    path: /x\n    protocolDeviceId: 248\n'),
    ).toMatch(/^lab\.yaml:5 \(at \/devices\/0\/protocolDeviceId\): must be <= 247$/);
    expect(
      bad(
        `devices:\n  - id: pv\n    driver: sunspec\n    path: /x\n    signing: { keyHex: ${'ab'.repeat(32)} }\n`,
      ),
    ).toMatch(/^lab\.yaml:5 \(at \/devices\/0\/signing\): not allowed here/);
    // A missing key points at the object that lacks it.
    expect(bad('devices:\n  - path: /x\n')).toMatch(
      /^lab\.yaml:2 \(at \/devices\/0\): must have required property 'id'$/,
    );
    expect(bad('devices: []\nname: lab\n')).toMatch(/^lab\.yaml:2 \(at \/name\): unknown key 'name'$/);
    // The firmware driver may use unit ids above 247 (frame header device id).
    expect(
      parseDeviceMapping('devices:\n  - { id: a, path: /x, protocolDeviceId: 1000 }\n', 'ok.yaml'),
    ).toHaveLength(1);
  });
});

describe('hostile mapping files', () => {
  it('a YAML alias bomb is refused as a mapping error with its line, not a crash (issue 17)', () => {
    const levels = ['a0: &a0 [x, x, x, x, x, x, x, x, x]'];
    for (let i = 1; i < 10; i++)
      levels.push(
        `a${i}: &a${i} [${Array(9)
          .fill(`*a${i - 1}`)
          .join(', ')}]`,
      );
    expect(() => parseDeviceMapping(`devices: []\n${levels.join('\n')}\n`, 'lab.yaml')).toThrow(
      /^lab\.yaml:3: too many YAML aliases/,
    );
    expect(() => parseDeviceMapping(`devices: []\n${levels.join('\n')}\n`, 'lab.yaml')).toThrow(
      DeviceMappingError,
    );
  });
});
