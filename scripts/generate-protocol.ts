/**
 * Writes the firmware protocol's message layouts from their one definition,
 * firmware-protocol/messages.yaml, into the TypeScript codec (ts/messages/*.ts and the message ids
 * of ts/constants.ts), the C library (the layout part of c/include/glp.h, the payload codec of
 * c/src/glp_codec.c) and SPEC.md (§7's message list and payload tables).
 *
 *   npm run generate:protocol            rewrite the generated files and regions
 *   npm run generate:protocol -- --check list the files that are out of date; exit 1 if any
 *
 * Hand-written text around the generated regions (marked `generated:… begin/end`) is kept.
 * vectors/generate.py must never read the definition or these outputs (see messages.yaml).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isNode, LineCounter, parseDocument } from 'yaml';

const ROOT = resolve(import.meta.dirname, '..');
const PROTOCOL = join(ROOT, 'firmware-protocol');
export const DEFINITION_FILE = join(PROTOCOL, 'messages.yaml');
const SOURCE_NOTE =
  'generated from firmware-protocol/messages.yaml by `npm run generate:protocol`; do not edit';

// ---------------------------------------------------------------------------------------------
// The definition, checked

const SCALARS = { u8: 1, u16: 2, u32: 4, u64: 8, f32: 4, f64: 8 } as const;
type Scalar = keyof typeof SCALARS;

export interface FieldType {
  /** Element type; `char` is ASCII text. */
  base: Scalar | 'char';
  /** Elements; undefined for a single value. */
  count?: number;
}

export interface Field {
  /** SPEC.md's name; undefined for reserved bytes. */
  name?: string;
  type: FieldType;
  typeText: string;
  offset: number;
  size: number;
  meaning: string;
  ts: string;
  c: string;
  bit?: string;
}

export interface ConstantGroup {
  ts: string;
  cPrefix?: string;
  doc: string;
  values: [string, number][];
}

export interface MessageDefinition {
  id: number;
  name: string;
  title: string;
  direction: string;
  module: string;
  ts: string;
  c: string;
  doc: string;
  specTable?: string;
  constants: ConstantGroup[];
  fields: Field[];
  length: number;
}

/** Named values of fields: a TS `as const` object and a C enum (or, for `bits`, C bit masks). */
export interface EnumDefinition {
  ts: string;
  doc: string;
  cEnum?: string;
  cPrefix: string;
  hex: boolean;
  /** Values are bit numbers: C gets `#define <prefix><NAME> (1ul << n)` masks. */
  bits: boolean;
  values: [string, number][];
}

export interface Definition {
  messages: MessageDefinition[];
  enums: EnumDefinition[];
}

export class ProtocolDefinitionError extends Error {
  override name = 'ProtocolDefinitionError';
}

const camel = (snake: string) => snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());

/** Parses and checks the definition; errors name the file, line and path of the offending value. */
export function parseDefinition(text: string, file = DEFINITION_FILE): Definition {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const where = (path: (string | number)[]) => {
    const node = doc.getIn(path, true);
    const line = isNode(node) && node.range ? `:${lineCounter.linePos(node.range[0]).line}` : '';
    const json = path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('');
    return `${relative(ROOT, file) || file}${line}: ${json.replace(/^\./, '')}`;
  };
  const fail = (path: (string | number)[], why: string): never => {
    throw new ProtocolDefinitionError(`${where(path)}: ${why}`);
  };
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new ProtocolDefinitionError(
      `${relative(ROOT, file)}:${lineCounter.linePos(e.pos[0]).line}: not YAML: ${e.message}`,
    );
  }
  const data = doc.toJS() as unknown;
  const isObject = (v: unknown): v is Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v);
  const onlyKeys = (v: Record<string, unknown>, path: (string | number)[], keys: string[]) => {
    for (const k of Object.keys(v))
      if (!keys.includes(k)) fail([...path, k], `unknown key (one of ${keys.join(', ')})`);
  };
  const text_ = (v: unknown, path: (string | number)[], pattern?: RegExp): string => {
    if (typeof v !== 'string' || v === '') return fail(path, 'expected a non-empty string');
    if (pattern && !pattern.test(v)) return fail(path, `'${v}' does not match ${pattern}`);
    return v;
  };
  const parseType = (v: unknown, path: (string | number)[]): FieldType => {
    const m = typeof v === 'string' ? /^(u8|u16|u32|u64|f32|f64|char)(?:\[(\d+)\])?$/.exec(v) : null;
    if (!m)
      return fail(path, `unknown type ${JSON.stringify(v)} (u8, u16, u32, u64, f32, f64, T[n], char[n])`);
    if (m[1] === 'char' && m[2] === undefined) return fail(path, 'char needs a length: char[n]');
    const count = m[2] === undefined ? undefined : Number(m[2]);
    if (count !== undefined && (count < 1 || count > 255))
      return fail(path, `array length ${count} is not 1…255`);
    return { base: m[1] as FieldType['base'], count };
  };
  if (!isObject(data) || !Array.isArray(data.messages))
    return fail([], 'expected a mapping with a `messages` list');
  onlyKeys(data, [], ['messages', 'enums']);
  const messages: MessageDefinition[] = [];
  for (const [i, raw] of (data.messages as unknown[]).entries()) {
    const path = ['messages', i];
    if (!isObject(raw)) return fail(path, 'expected a mapping');
    onlyKeys(raw, path, [
      'id',
      'name',
      'title',
      'direction',
      'module',
      'ts',
      'c',
      'doc',
      'spec_table',
      'constants',
      'fields',
    ]);
    if (!Number.isInteger(raw.id) || (raw.id as number) < 1 || (raw.id as number) > 255)
      fail([...path, 'id'], 'expected a message id 1…255');
    const constants: ConstantGroup[] = [];
    const bits = new Set<string>();
    if (raw.constants !== undefined && !Array.isArray(raw.constants))
      fail([...path, 'constants'], 'expected a list');
    for (const [k, g] of ((raw.constants as unknown[]) ?? []).entries()) {
      const gp = [...path, 'constants', k];
      if (!isObject(g)) return fail(gp, 'expected a mapping');
      onlyKeys(g, gp, ['ts', 'c_prefix', 'doc', 'values']);
      if (!isObject(g.values) || Object.keys(g.values).length === 0)
        fail([...gp, 'values'], 'expected name: value pairs');
      const values: [string, number][] = [];
      for (const [name, value] of Object.entries(g.values as Record<string, unknown>)) {
        text_(name, [...gp, 'values', name], /^[A-Z][A-Z0-9_]*$/);
        if (!Number.isInteger(value) || (value as number) < 0)
          fail([...gp, 'values', name], 'expected an integer ≥ 0');
        values.push([name, value as number]);
        bits.add(name);
      }
      constants.push({
        ts: text_(g.ts, [...gp, 'ts'], /^[A-Z]\w*$/),
        cPrefix:
          g.c_prefix === undefined ? undefined : text_(g.c_prefix, [...gp, 'c_prefix'], /^GLP_[A-Z0-9_]*_$/),
        doc: text_(g.doc, [...gp, 'doc']),
        values,
      });
    }
    if (!Array.isArray(raw.fields) || raw.fields.length === 0)
      fail([...path, 'fields'], 'expected a non-empty list');
    let offset = 0;
    const names = new Set<string>();
    const fields = (raw.fields as unknown[]).map((f, k): Field => {
      const fp = [...path, 'fields', k];
      if (!isObject(f)) return fail(fp, 'expected a mapping');
      const reserved = f.reserved !== undefined;
      if (reserved) onlyKeys(f, fp, ['reserved']);
      else onlyKeys(f, fp, ['name', 'type', 'meaning', 'ts', 'c', 'bit']);
      const typePath = [...fp, reserved ? 'reserved' : 'type'];
      const type = parseType(reserved ? f.reserved : f.type, typePath);
      if (reserved && type.base !== 'u8') fail(typePath, 'reserved bytes are u8 or u8[n]');
      if (!reserved && type.count !== undefined && type.base !== 'char' && type.base !== 'f32')
        fail(typePath, 'arrays are f32[n] or char[n]');
      const size = (type.base === 'char' ? 1 : SCALARS[type.base]) * (type.count ?? 1);
      const field: Field = {
        type,
        typeText: (reserved ? f.reserved : f.type) as string,
        offset,
        size,
        meaning: '',
        ts: '',
        c: '',
      };
      offset += size;
      if (reserved) return field;
      const name = text_(f.name, [...fp, 'name'], /^[a-z][a-z0-9_]*$/);
      if (names.has(name)) fail([...fp, 'name'], `'${name}' twice in one message`);
      names.add(name);
      if (f.bit !== undefined && !bits.has(f.bit as string))
        fail([...fp, 'bit'], `'${String(f.bit)}' is not a value of this message's constants`);
      return {
        ...field,
        name,
        meaning: f.meaning === undefined ? '' : text_(f.meaning, [...fp, 'meaning']),
        ts: f.ts === undefined ? camel(name) : text_(f.ts, [...fp, 'ts'], /^[a-z]\w*$/),
        c: f.c === undefined ? name : text_(f.c, [...fp, 'c'], /^[a-z][a-z0-9_]*$/),
        bit: f.bit as string | undefined,
      };
    });
    if (offset > 255) fail([...path, 'fields'], `payload of ${offset} bytes: more than 255`);
    const message: MessageDefinition = {
      id: raw.id as number,
      name: text_(raw.name, [...path, 'name'], /^[A-Z][A-Z0-9_]*$/),
      title: text_(raw.title, [...path, 'title']),
      direction: text_(raw.direction, [...path, 'direction']),
      module: text_(raw.module, [...path, 'module'], /^[a-z][a-z0-9-]*$/),
      ts: text_(raw.ts, [...path, 'ts'], /^[A-Z]\w*$/),
      c: text_(raw.c, [...path, 'c'], /^[a-z][a-z0-9_]*$/),
      doc: text_(raw.doc, [...path, 'doc']),
      specTable: raw.spec_table === undefined ? undefined : text_(raw.spec_table, [...path, 'spec_table']),
      constants,
      fields,
      length: offset,
    };
    for (const other of messages) {
      if (other.id === message.id) fail([...path, 'id'], `id ${message.id} is also ${other.name}'s`);
      if (other.name === message.name) fail([...path, 'name'], `${message.name} defined twice`);
    }
    messages.push(message);
  }
  for (const [i, m] of messages.entries()) {
    if (m.specTable === undefined) continue;
    const host = messages.find((o) => o.name === m.specTable);
    if (!host) return fail(['messages', i, 'spec_table'], `no message ${m.specTable}`);
    for (const [k, f] of m.fields.entries()) {
      const h = host.fields.find((o) => o.offset === f.offset);
      if (!h || h.size !== f.size || (f.name !== undefined && h.name !== f.name))
        fail(['messages', i, 'fields', k], `does not match ${host.name}'s field at offset ${f.offset}`);
    }
  }
  const enums: EnumDefinition[] = [];
  if (data.enums !== undefined && !Array.isArray(data.enums)) fail(['enums'], 'expected a list');
  for (const [i, raw] of ((data.enums as unknown[]) ?? []).entries()) {
    const path = ['enums', i];
    if (!isObject(raw)) return fail(path, 'expected a mapping');
    onlyKeys(raw, path, ['ts', 'doc', 'c', 'hex', 'bits', 'values']);
    if (!isObject(raw.c)) return fail([...path, 'c'], 'expected { enum?, prefix }');
    onlyKeys(raw.c, [...path, 'c'], ['enum', 'prefix']);
    for (const flag of ['hex', 'bits'] as const)
      if (raw[flag] !== undefined && typeof raw[flag] !== 'boolean')
        fail([...path, flag], 'expected true or false');
    if (!isObject(raw.values) || Object.keys(raw.values).length === 0)
      return fail([...path, 'values'], 'expected name: value pairs');
    const values: [string, number][] = [];
    for (const [name, value] of Object.entries(raw.values)) {
      text_(name, [...path, 'values', name], /^[A-Z][A-Z0-9_]*$/);
      const limit = raw.bits ? 31 : 0xffffffff;
      if (!Number.isInteger(value) || (value as number) < 0 || (value as number) > limit)
        fail([...path, 'values', name], `expected an integer 0…${limit}`);
      values.push([name, value as number]);
    }
    const e: EnumDefinition = {
      ts: text_(raw.ts, [...path, 'ts'], /^[A-Z]\w*$/),
      doc: text_(raw.doc, [...path, 'doc']),
      cEnum:
        raw.c.enum === undefined ? undefined : text_(raw.c.enum, [...path, 'c', 'enum'], /^glp_[a-z0-9_]+$/),
      cPrefix: text_(raw.c.prefix, [...path, 'c', 'prefix'], /^GLP_[A-Z0-9_]*_$/),
      hex: raw.hex === true,
      bits: raw.bits === true,
      values,
    };
    if (e.bits === (e.cEnum !== undefined))
      fail([...path, 'c'], 'an enum name, or `bits: true` (bit masks), not both');
    if (enums.some((o) => o.ts === e.ts)) fail([...path, 'ts'], `${e.ts} defined twice`);
    enums.push(e);
  }
  return { messages, enums };
}

// ---------------------------------------------------------------------------------------------
// TypeScript

const hex = (n: number) => `0x${n.toString(16).toUpperCase().padStart(2, '0')}`;
const at = (offset: number) => (offset === 0 ? 'offset' : `offset + ${offset}`);
const tsDoc = (text: string, indent = '') =>
  text === '' ? '' : `${indent}/** ${text.replace(/\\\|/g, '|').replace(/\*\//g, '*∕')} */\n`;
const lengthName = (m: MessageDefinition) => `${m.name}_LENGTH`;
const textLengthName = (m: MessageDefinition, f: Field) => `${m.name}_${f.name!.toUpperCase()}_LENGTH`;

const TS_SET = {
  u8: 'Uint8',
  u16: 'Uint16',
  u32: 'Uint32',
  u64: 'BigUint64',
  f32: 'Float32',
  f64: 'Float64',
};

function tsType(f: Field): string {
  if (f.type.base === 'char') return 'string';
  if (f.type.base === 'u64') return 'bigint';
  if (f.type.count !== undefined) return `[${Array(f.type.count).fill('number').join(', ')}]`;
  return 'number';
}

function tsWrite(m: MessageDefinition, f: Field): string[] {
  const little = (base: Scalar) => (base === 'u8' ? '' : ', true');
  if (f.name === undefined)
    return Array.from({ length: f.size }, (_, i) => `view.setUint8(${at(f.offset + i)}, 0);`);
  const v = `m.${f.ts}`;
  if (f.type.base === 'char')
    return [
      `const text = ${v};`,
      `for (let i = 0; i < ${textLengthName(m, f)}; i++) {`,
      '  const c = i < text.length ? text.charCodeAt(i) : 0;',
      `  view.setUint8(${at(f.offset)} + i, c > 0 && c < 0x80 ? c : c === 0 ? 0 : 0x3f);`,
      '}',
    ];
  const base = f.type.base;
  const size = SCALARS[base];
  const value = (x: string) => (base === 'u32' ? `${x} >>> 0` : x);
  if (f.type.count !== undefined)
    return [
      `for (let i = 0; i < ${f.type.count}; i++) view.set${TS_SET[base]}(${at(f.offset)} + ${size} * i, ${value(`${v}[i]`)}${little(base)});`,
    ];
  return [`view.set${TS_SET[base]}(${at(f.offset)}, ${value(v)}${little(base)});`];
}

function tsRead(f: Field): string {
  const base = f.type.base as Scalar;
  const little = base === 'u8' ? '' : ', true';
  const get = (offset: number) => `view.get${TS_SET[base]}(${at(offset)}${little})`;
  if (f.type.count !== undefined)
    return `[${Array.from({ length: f.type.count }, (_, i) => get(f.offset + SCALARS[base] * i)).join(', ')}]`;
  return get(f.offset);
}

function tsMessage(m: MessageDefinition): string {
  const out: string[] = [];
  for (const g of m.constants) {
    out.push(tsDoc(g.doc), `export const ${g.ts} = {\n`);
    for (const [name, value] of g.values) out.push(`  ${name}: ${g.cPrefix ? hex(value) : value},\n`);
    out.push('} as const;\n\n');
  }
  out.push(tsDoc(m.doc), `export interface ${m.ts} {\n  type: '${m.name}';\n`);
  for (const f of m.fields)
    if (f.name !== undefined) out.push(tsDoc(f.meaning, '  '), `  ${f.ts}: ${tsType(f)};\n`);
  out.push('}\n');
  for (const f of m.fields)
    if (f.type.base === 'char') out.push(`export const ${textLengthName(m, f)} = ${f.type.count};\n`);
  out.push(`export const ${lengthName(m)} = ${m.length};\n\n`);
  out.push(`export function write${m.ts}(view: DataView, offset: number, m: ${m.ts}): number {\n`);
  for (const f of m.fields) for (const line of tsWrite(m, f)) out.push(`  ${line}\n`);
  out.push(`  return ${lengthName(m)};\n}\n\n`);
  out.push(`export function read${m.ts}(view: DataView, offset: number): ${m.ts} {\n`);
  const props: string[] = [`type: '${m.name}'`];
  for (const f of m.fields) {
    if (f.name === undefined) continue;
    if (f.type.base === 'char') {
      out.push(
        `  let ${f.ts} = '';\n`,
        `  for (let i = 0; i < ${textLengthName(m, f)}; i++) {\n`,
        `    const c = view.getUint8(${at(f.offset)} + i);\n`,
        '    if (c === 0) break;\n',
        `    ${f.ts} += String.fromCharCode(c < 0x80 ? c : 0x3f);\n`,
        '  }\n',
      );
      props.push(f.ts);
    } else props.push(`${f.ts}: ${tsRead(f)}`);
  }
  out.push(`  return { ${props.join(', ')} };\n}\n`);
  return out.join('');
}

function tsModules(messages: MessageDefinition[]): Map<string, string> {
  const files = new Map<string, string>();
  const modules = [...new Set(messages.map((m) => m.module))];
  for (const module of modules) {
    const members = messages.filter((m) => m.module === module);
    const body = members.map(tsMessage).join('\n');
    files.set(
      join(PROTOCOL, 'ts', 'messages', `${module}.ts`),
      `/** ${members.map((m) => m.name).join(', ')}: payload layouts, ${SOURCE_NOTE}. */\n\n${body}`,
    );
  }
  const imports = modules.map((module) => {
    const names = messages
      .filter((m) => m.module === module)
      .flatMap((m) => [lengthName(m), `type ${m.ts}`, `read${m.ts}`, `write${m.ts}`]);
    return `import { ${names.join(', ')} } from './${module}.ts';\n`;
  });
  const index = [
    `/** Message registry: id ↔ type, payload encode/decode dispatch; ${SOURCE_NOTE}. */\n`,
    "import { MessageId, type MessageType } from '../constants.ts';\n",
    ...imports,
    `\nexport type Message = ${messages.map((m) => m.ts).join(' | ')};\n`,
    'export type MessageOf<T extends MessageType> = Extract<Message, { type: T }>;\n\n',
    '/** Payload length of each message in this protocol version. Newer minor versions may append bytes. */\n',
    'export const PAYLOAD_LENGTH: Readonly<Record<MessageType, number>> = {\n',
    ...messages.map((m) => `  ${m.name}: ${lengthName(m)},\n`),
    '};\n\n',
    'const TYPE_BY_ID: (MessageType | undefined)[] = [];\n',
    'for (const [type, id] of Object.entries(MessageId)) TYPE_BY_ID[id] = type as MessageType;\n\n',
    '/** Message type for a wire id, or undefined for ids this version does not know. */\n',
    'export function messageTypeOf(id: number): MessageType | undefined {\n  return TYPE_BY_ID[id];\n}\n\n',
    "/** Writes `message`'s payload at `offset`; returns its length. */\n",
    'export function writePayload(view: DataView, offset: number, message: Message): number {\n',
    '  switch (message.type) {\n',
    ...messages.map((m) => `    case '${m.name}':\n      return write${m.ts}(view, offset, message);\n`),
    '    default:\n',
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a template literal of the generated code
    '      throw new TypeError(`unknown message type ${String((message as { type: unknown }).type)}`);\n',
    '  }\n}\n\n',
    '/** Reads a payload of a known type. The caller has checked that `length ≥ PAYLOAD_LENGTH[type]`. */\n',
    'export function readPayload(type: MessageType, view: DataView, offset: number): Message {\n',
    '  switch (type) {\n',
    ...messages.map((m) => `    case '${m.name}':\n      return read${m.ts}(view, offset);\n`),
    '  }\n}\n',
  ];
  files.set(join(PROTOCOL, 'ts', 'messages', 'index.ts'), index.join(''));
  return files;
}

function tsMessageIds(messages: MessageDefinition[]): string {
  return [
    'export const MessageId = {\n',
    ...messages.map((m) => `  ${m.name}: 0x${m.id.toString(16).padStart(2, '0')},\n`),
    '} as const;\n',
  ].join('');
}

function tsEnums(enums: EnumDefinition[]): string {
  return enums
    .map((e) => {
      const values = e.values.map(([name, value]) => `  ${name}: ${e.hex ? hex(value) : value},\n`).join('');
      return `${tsDoc(e.doc)}export const ${e.ts} = {\n${values}} as const;\n`;
    })
    .join('\n');
}

/** Formats TypeScript (imports sorted) as `biome check` wants it, so generated files pass the house check. */
const formatted = new Map<string, string>();
function formatTs(file: string, source: string): string {
  const key = `${file}\n${source}`;
  let text = formatted.get(key);
  if (text === undefined) {
    text = execFileSync(
      join(ROOT, 'node_modules', '.bin', 'biome'),
      ['check', '--write', `--stdin-file-path=${file}`],
      { input: source, encoding: 'utf8', cwd: ROOT },
    );
    formatted.set(key, text);
  }
  return text;
}

// ---------------------------------------------------------------------------------------------
// C

const C_TYPE = {
  u8: 'uint8_t',
  u16: 'uint16_t',
  u32: 'uint32_t',
  u64: 'uint64_t',
  f32: 'float',
  f64: 'double',
};
const cLen = (m: MessageDefinition) => `GLP_${m.name}_LEN`;
const cTextLen = (m: MessageDefinition, f: Field) => `GLP_${m.name}_${f.name!.toUpperCase()}_LEN`;

function cHeader(messages: MessageDefinition[]): string {
  const out: string[] = ['enum glp_msg_id {\n'];
  out.push(messages.map((m) => `  GLP_MSG_${m.name} = ${hex(m.id)}`).join(',\n'), '\n};\n\n');
  for (const m of messages) {
    for (const f of m.fields)
      if (f.type.base === 'char') out.push(`#define ${cTextLen(m, f)} ${f.type.count}u\n`);
    out.push(`#define ${cLen(m)} ${m.length}u\n`);
  }
  for (const m of messages)
    for (const g of m.constants) {
      if (!g.cPrefix) continue;
      out.push(`\n/* ${g.doc} */\n`);
      for (const [name, value] of g.values) out.push(`#define ${g.cPrefix}${name} ${hex(value)}u\n`);
    }
  for (const m of messages) {
    out.push(`\n/* ${m.doc.replace(/\*\//g, '* /')} */\ntypedef struct {\n`);
    for (const f of m.fields) {
      if (f.name === undefined) continue;
      if (f.type.base === 'char')
        out.push(`  char ${f.c}[${cTextLen(m, f)} + 1]; /* NUL-terminated here; NUL-padded on the wire */\n`);
      else out.push(`  ${C_TYPE[f.type.base]} ${f.c}${f.type.count ? `[${f.type.count}]` : ''};\n`);
    }
    out.push(`} glp_${m.c}_t;\n`);
  }
  out.push('\ntypedef struct {\n  uint8_t id; /* enum glp_msg_id: selects the union member */\n  union {\n');
  for (const m of messages) out.push(`    glp_${m.c}_t ${m.c};\n`);
  out.push('  } u;\n} glp_message_t;\n');
  return out.join('');
}

function cEnums(enums: EnumDefinition[]): string {
  return enums
    .map((e) => {
      const doc = `/* ${e.doc} */\n`;
      if (e.bits) return doc + e.values.map(([n, v]) => `#define ${e.cPrefix}${n} (1ul << ${v})\n`).join('');
      const values = e.values.map(([n, v]) => `  ${e.cPrefix}${n} = ${e.hex ? hex(v) : v}`).join(',\n');
      return `${doc}enum ${e.cEnum} {\n${values}\n};\n`;
    })
    .join('\n');
}

const cAt = (offset: number) => (offset === 0 ? 'p' : `p + ${offset}`);

function cCodec(messages: MessageDefinition[]): string {
  const out: string[] = ['size_t glp_payload_len(uint8_t message_id) {\n  switch (message_id) {\n'];
  for (const m of messages) out.push(`    case GLP_MSG_${m.name}: return ${cLen(m)};\n`);
  out.push('    default: return 0;\n  }\n}\n\n');
  out.push(
    'size_t glp_encode_payload(const glp_message_t *m, uint8_t *p, size_t cap) {\n',
    '  size_t len = glp_payload_len(m->id);\n',
    '  if (len == 0 || len > cap) return 0;\n',
    '  memset(p, 0, len);\n',
    '  switch (m->id) {\n',
  );
  for (const m of messages) {
    out.push(`    case GLP_MSG_${m.name}: {\n      const glp_${m.c}_t *x = &m->u.${m.c};\n`);
    for (const f of m.fields) {
      if (f.name === undefined) continue;
      const base = f.type.base;
      if (base === 'char') {
        out.push(
          `      for (size_t i = 0; i < ${cTextLen(m, f)} && x->${f.c}[i] != '\\0'; i++) {\n`,
          `        uint8_t c = (uint8_t)x->${f.c}[i];\n`,
          `        p[${f.offset} + i] = c < 0x80 ? c : (uint8_t)'?';\n`,
          '      }\n',
        );
      } else if (f.type.count !== undefined) {
        out.push(
          `      for (int i = 0; i < ${f.type.count}; i++) put_${base}(${cAt(f.offset)} + ${SCALARS[base]} * i, x->${f.c}[i]);\n`,
        );
      } else if (base === 'u8') out.push(`      p[${f.offset}] = x->${f.c};\n`);
      else out.push(`      put_${base}(${cAt(f.offset)}, x->${f.c});\n`);
    }
    out.push('      break;\n    }\n');
  }
  out.push('    default:\n      return 0;\n  }\n  return len;\n}\n\n');
  out.push(
    'glp_status_t glp_decode_payload(uint8_t message_id, const uint8_t *p, size_t len, glp_message_t *m) {\n',
    '  size_t need = glp_payload_len(message_id);\n',
    '  if (need == 0) return GLP_ERR_UNKNOWN_MESSAGE;\n',
    '  if (len < need) return GLP_ERR_PAYLOAD_TOO_SHORT;\n',
    '  memset(m, 0, sizeof *m);\n',
    '  m->id = message_id;\n',
    '  switch (message_id) {\n',
  );
  for (const m of messages) {
    out.push(`    case GLP_MSG_${m.name}: {\n      glp_${m.c}_t *x = &m->u.${m.c};\n`);
    for (const f of m.fields) {
      if (f.name === undefined) continue;
      const base = f.type.base;
      if (base === 'char') {
        out.push(
          `      for (size_t i = 0; i < ${cTextLen(m, f)}; i++) {\n`,
          `        uint8_t c = p[${f.offset} + i];\n`,
          '        if (c == 0) break;\n',
          `        x->${f.c}[i] = (char)(c < 0x80 ? c : '?');\n`,
          '      }\n',
        );
      } else if (f.type.count !== undefined) {
        out.push(
          `      for (int i = 0; i < ${f.type.count}; i++) x->${f.c}[i] = get_${base}(${cAt(f.offset)} + ${SCALARS[base]} * i);\n`,
        );
      } else if (base === 'u8') out.push(`      x->${f.c} = p[${f.offset}];\n`);
      else out.push(`      x->${f.c} = get_${base}(${cAt(f.offset)});\n`);
    }
    out.push('      break;\n    }\n');
  }
  out.push('    default:\n      return GLP_ERR_UNKNOWN_MESSAGE;\n  }\n  return GLP_OK;\n}\n');
  return out.join('');
}

// ---------------------------------------------------------------------------------------------
// SPEC.md

function specMessageList(messages: MessageDefinition[]): string {
  const rows = messages.map((m) => `| ${hex(m.id)} | ${m.title} | ${m.direction} | ${m.length} |\n`);
  return `| id | name | direction | payload bytes |\n|---:|---|---|---:|\n${rows.join('')}`;
}

function specTable(host: MessageDefinition, guests: MessageDefinition[]): string {
  const withBits = host.fields.some((f) => f.bit !== undefined);
  const bitOf = (f: Field) => {
    if (f.bit === undefined) return '';
    const value = host.constants.flatMap((g) => g.values).find(([name]) => name === f.bit)![1];
    return hex(value);
  };
  const out = [
    withBits
      ? '| offset | type | field | `fields` bit | meaning |\n|---:|---|---|---|---|\n'
      : '| offset | type | field | meaning |\n|---:|---|---|---|\n',
  ];
  for (const f of host.fields) {
    let meaning = f.name === undefined ? '0' : f.meaning;
    for (const g of guests) {
      const mine = g.fields.find((o) => o.offset === f.offset);
      if (f.name === undefined || mine?.name !== undefined) continue;
      meaning = `${host.name} only${mine ? ` (${g.name}: reserved 0)` : ''}: ${meaning}`;
    }
    const cells = [String(f.offset), f.typeText, f.name === undefined ? 'reserved' : `\`${f.name}\``];
    if (withBits) cells.push(bitOf(f));
    cells.push(meaning);
    out.push(`| ${cells.join(' | ')} |\n`.replace(/\| {2}\|/g, '| |').replace(/ {2}\|\n$/, ' |\n'));
  }
  return out.join('');
}

// ---------------------------------------------------------------------------------------------
// Files

/** Replaces the text between the lines holding `begin` and `end` markers (kept) with `body`. */
function replaceRegion(file: string, text: string, name: string, body: string): string {
  const begin = text.indexOf(`generated:${name}:begin`);
  const end = text.indexOf(`generated:${name}:end`);
  if (begin < 0 || end < begin)
    throw new ProtocolDefinitionError(`${relative(ROOT, file)}: no generated:${name} markers`);
  const from = text.indexOf('\n', begin) + 1;
  const to = text.lastIndexOf('\n', end) + 1;
  return text.slice(0, from) + body + text.slice(to);
}

/** Every generated file's expected content, from the definition and the files as they are. */
export function generatedFiles(
  { messages, enums }: Definition,
  read: (file: string) => string = (f) => readFileSync(f, 'utf8'),
): Map<string, string> {
  const files = new Map<string, string>();
  for (const [file, source] of tsModules(messages)) files.set(file, formatTs(file, source));
  const constants = join(PROTOCOL, 'ts', 'constants.ts');
  let ts = replaceRegion(constants, read(constants), 'message-ids', tsMessageIds(messages));
  ts = replaceRegion(constants, ts, 'enums', tsEnums(enums));
  files.set(constants, formatTs(constants, ts));
  const header = join(PROTOCOL, 'c', 'include', 'glp.h');
  let h = replaceRegion(header, read(header), 'layouts', cHeader(messages));
  h = replaceRegion(header, h, 'enums', cEnums(enums));
  files.set(header, h);
  const codec = join(PROTOCOL, 'c', 'src', 'glp_codec.c');
  files.set(codec, replaceRegion(codec, read(codec), 'payload-codec', cCodec(messages)));
  const specFile = join(PROTOCOL, 'SPEC.md');
  let spec = replaceRegion(specFile, read(specFile), 'messages', specMessageList(messages));
  for (const m of messages) {
    if (m.specTable !== undefined) continue;
    const guests = messages.filter((g) => g.specTable === m.name);
    spec = replaceRegion(specFile, spec, `layout-${m.name}`, specTable(m, guests));
  }
  files.set(specFile, spec);
  return files;
}

/** Files whose content differs from what the definition generates (`read` gives a file's content). */
export function staleFiles(read: (file: string) => string = (f) => readFileSync(f, 'utf8')): string[] {
  const expected = generatedFiles(parseDefinition(read(DEFINITION_FILE)), read);
  return [...expected].filter(([file, text]) => read(file) !== text).map(([file]) => file);
}

function main(argv: string[]): number {
  const check = argv.includes('--check');
  const unknown = argv.filter((a) => a !== '--check');
  if (unknown.length > 0) {
    console.error(`generate-protocol: unknown argument ${unknown[0]} (usage: generate-protocol [--check])`);
    return 2;
  }
  try {
    if (check) {
      const stale = staleFiles();
      for (const file of stale) console.error(`out of date with messages.yaml: ${relative(ROOT, file)}`);
      return stale.length === 0 ? 0 : 1;
    }
    const files = generatedFiles(parseDefinition(readFileSync(DEFINITION_FILE, 'utf8')));
    for (const [file, text] of files) {
      if (readFileSync(file, 'utf8') === text) continue;
      writeFileSync(file, text);
      console.log(`wrote ${relative(ROOT, file)}`);
    }
    return 0;
  } catch (err) {
    if (!(err instanceof ProtocolDefinitionError)) throw err;
    console.error(`generate-protocol: ${err.message}`);
    return 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url))
  process.exitCode = main(process.argv.slice(2));
