/**
 * The firmware message layouts are written once (firmware-protocol/messages.yaml) and generated into
 * the TS codec, the C header and codec, and SPEC.md. These tests keep the generated files in step
 * with the definition, check the definition itself, and keep the golden-vector generator out of it.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFINITION_FILE,
  generatedFiles,
  type MessageDefinition,
  ProtocolDefinitionError,
  parseDefinition,
  staleFiles,
} from './generate-protocol.ts';

const ROOT = join(import.meta.dirname, '..');
const PROTOCOL = join(ROOT, 'firmware-protocol');
const definition = readFileSync(DEFINITION_FILE, 'utf8');
const parsed = parseDefinition(definition);
const messages = parsed.messages;
const disk = (file: string) => readFileSync(file, 'utf8');
const byName = (name: string) => messages.find((m) => m.name === name) as MessageDefinition;

describe('generated protocol files (npm run generate:protocol)', () => {
  it('are committed exactly as the definition generates them', () => {
    expect(staleFiles().map((f) => f.slice(ROOT.length + 1))).toEqual([]);
  });

  it('generate the TS modules, ts/constants.ts, glp.h, glp_codec.c and SPEC.md', () => {
    const files = [...generatedFiles(parsed).keys()].map((f) => f.slice(PROTOCOL.length + 1)).sort();
    expect(files).toEqual([
      'SPEC.md',
      'c/include/glp.h',
      'c/src/glp_codec.c',
      'ts/constants.ts',
      'ts/messages/alarm.ts',
      'ts/messages/control.ts',
      'ts/messages/hello.ts',
      'ts/messages/index.ts',
      'ts/messages/link.ts',
      'ts/messages/measurement.ts',
    ]);
  });

  it('a hand edit inside a generated region is reported as out of date', () => {
    const spec = join(PROTOCOL, 'SPEC.md');
    const header = join(PROTOCOL, 'c', 'include', 'glp.h');
    const edited = (file: string) => {
      if (file === spec)
        return disk(file).replace('| 52 | u32 | `watchdog_ms` |', '| 52 | f32 | `watchdog_ms` |');
      if (file === header)
        return disk(file).replace('#define GLP_CONFIG_LEN 56u', '#define GLP_CONFIG_LEN 60u');
      return disk(file);
    };
    expect(
      staleFiles(edited)
        .map((f) => f.slice(PROTOCOL.length + 1))
        .sort(),
    ).toEqual(['SPEC.md', 'c/include/glp.h']);
  });

  it('a changed definition changes every place that layout is written', () => {
    const changed = definition.replace(
      "{ name: watchdog_ms, type: u32, bit: WATCHDOG, meaning: 'device watchdog (§10)' }",
      "{ name: watchdog_ms, type: u32, bit: WATCHDOG, meaning: 'device watchdog (§10)' }\n      - { name: extra_w, type: f32 }",
    );
    expect(changed).not.toBe(definition);
    const files = generatedFiles(parseDefinition(changed));
    const stale = [...files]
      .filter(([file, text]) => disk(file) !== text)
      .map(([f]) => f.slice(PROTOCOL.length + 1));
    expect(stale.sort()).toEqual([
      'SPEC.md',
      'c/include/glp.h',
      'c/src/glp_codec.c',
      'ts/messages/control.ts',
    ]);
    expect(files.get(join(PROTOCOL, 'SPEC.md'))).toContain('| 56 | f32 | `extra_w` | |');
    expect(files.get(join(PROTOCOL, 'c', 'include', 'glp.h'))).toContain('#define GLP_CONFIG_LEN 60u');
    expect(files.get(join(PROTOCOL, 'c', 'src', 'glp_codec.c'))).toContain('put_f32(p + 56, x->extra_w);');
    expect(files.get(join(PROTOCOL, 'ts', 'messages', 'control.ts'))).toContain(
      'view.setFloat32(offset + 56, m.extraW, true);',
    );
  });

  it('the command refuses an unknown argument with exit code 2 (--check is run in-process above)', () => {
    const script = join(ROOT, 'scripts', 'generate-protocol.ts');
    const bad = spawnSync(process.execPath, ['--import', 'tsx', script, '--chek'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('unknown argument --chek');
  });
});

describe('the definition (firmware-protocol/messages.yaml)', () => {
  it("agrees with SPEC.md's hand-written prose on sizes", () => {
    const spec = disk(join(PROTOCOL, 'SPEC.md'));
    // §6: the largest payload of version 1.0.
    const largest = messages.reduce((a, b) => (b.length > a.length ? b : a));
    expect(spec).toContain(`(${largest.length} bytes, ${largest.name}, in 1.0)`);
    // §9: a MEASUREMENT and a DEVICE_STATE are 41-byte frames (9 header + payload + 4 CRC).
    expect(spec).toContain('43 bytes each on the wire (41-byte frame');
    expect(9 + byName('MEASUREMENT').length + 4).toBe(41);
    expect(9 + byName('DEVICE_STATE').length + 4).toBe(41);
    // §5: float fields are binary32 except `twin_time_s`.
    const f64 = messages.flatMap((m) => m.fields.filter((f) => f.type.base === 'f64').map((f) => f.name));
    expect(f64).toEqual(['twin_time_s']);
    expect(spec).toMatch(/binary32 except\s+`twin_time_s` \(binary64/);
  });

  it("names the same values in a field's meaning (SPEC.md) as in its enum (the codecs' constants)", () => {
    const pairs: [string, string, string][] = [
      ['DEVICE_STATE', 'inverter_state', 'InverterState'],
      ['DEVICE_STATE', 'charge_state', 'ChargeState'],
      ['NACK', 'reason', 'NackReason'],
      ['ALARM', 'severity', 'AlarmSeverity'],
    ];
    for (const [message, field, enumName] of pairs) {
      const meaning = byName(message).fields.find((f) => f.name === field)!.meaning;
      const values = new Map(parsed.enums.find((e) => e.ts === enumName)!.values);
      const named = [...meaning.matchAll(/(\d+) ([A-Z][A-Z_]+)/g)];
      expect(named.length, `${message}.${field}`).toBeGreaterThan(3);
      for (const [, n, name] of named)
        expect(values.get(name), `${message}.${field} ${name}`).toBe(Number(n));
    }
  });

  const broken = (from: string, to: string) => () => parseDefinition(definition.replace(from, to));
  it.each([
    [
      'an unknown type',
      broken('{ name: serial_number, type: u32 }', '{ name: serial_number, type: u12 }'),
      /messages\.yaml:\d+: messages\[0\]\.fields\[15\]\.type: unknown type "u12"/,
    ],
    ['a duplicate id', broken('  - id: 0x0A', '  - id: 0x09'), /messages\[9\]\.id: id 9 is also ACK's/],
    [
      'a misspelt key',
      broken('{ name: code, type: u16,', '{ name: code, typ: u16,'),
      /messages\[7\]\.fields\[2\]\.typ: unknown key/,
    ],
    [
      'a `fields` bit the message does not define',
      broken('bit: WATCHDOG', 'bit: WATCHDOGS'),
      /messages\[4\]\.fields\[9\]\.bit: 'WATCHDOGS' is not a value/,
    ],
    [
      'a payload over 255 bytes',
      broken('type: char[24]', 'type: char[240]'),
      /messages\[7\]\.fields: payload of 260 bytes: more than 255/,
    ],
    [
      'an ACK that no longer fits the NACK table it is documented in',
      broken(
        "{ name: seq, type: u16, meaning: '`seq` of the frame answered' }\n\n  - id: 0x0A",
        "{ name: seq, type: u32, meaning: '`seq` of the frame answered' }\n\n  - id: 0x0A",
      ),
      /messages\[8\]\.fields\[2\]: does not match NACK's field at offset 2/,
    ],
    [
      'an enum that is both a C enum and bit masks',
      broken(
        'c: { enum: glp_device_type, prefix: GLP_DEVICE_ }',
        'c: { enum: glp_device_type, prefix: GLP_DEVICE_ }\n    bits: true',
      ),
      /enums\[0\]\.c: an enum name, or `bits: true`/,
    ],
    ['text that is not YAML', broken('messages:', 'messages: ['), /messages\.yaml:\d+: not YAML/],
  ])('rejects %s, naming the line and path', (_, parse, message) => {
    expect(parse).toThrow(ProtocolDefinitionError);
    expect(parse).toThrow(message);
  });
});

describe('the golden-vector generator stays independent of the definition', () => {
  const text = disk(join(PROTOCOL, 'vectors', 'generate.py'));
  /** The program without its docstring (which may name the specification it was written from). */
  const source = text.replace(/^[\s\S]*?"""[\s\S]*?"""/, '');

  it('reads no file and imports only the standard library it names', () => {
    expect(source).not.toMatch(/\bopen\(|\bPath\(|read_text|messages\.yaml|SPEC\.md|glp\.h|\.ts\b/);
    const imports = [...source.matchAll(/^(?:import|from) (\w+)/gm)].map((m) => m[1]).sort();
    expect(imports).toEqual(['hashlib', 'hmac', 'json', 'struct']);
  });

  it('its own hand-written layouts give the payload lengths of the definition', () => {
    const program = `
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("gen", sys.argv[1])
gen = importlib.util.module_from_spec(spec); spec.loader.exec_module(gen)
print(json.dumps({m["type"]: len(gen.payload(m)) for _, _, _, _, _, m in gen.MESSAGES}))`;
    const lengths = JSON.parse(
      execFileSync('python3', ['-c', program, join(PROTOCOL, 'vectors', 'generate.py')], {
        encoding: 'utf8',
      }),
    ) as Record<string, number>;
    expect(Object.keys(lengths).sort()).toEqual(messages.map((m) => m.name).sort());
    for (const m of messages) expect(lengths[m.name], m.name).toBe(m.length);
  });
});
