/**
 * Reads a YAML input file (grid, scenario) safely: syntax errors with their line, aliases capped
 * (a "billion laughs" file is refused, not expanded), no stack overflow on absurd nesting, and
 * every number checked finite. Callers turn a YamlSourceError into their own error type.
 */
import { type Document, isNode, LineCounter, parseDocument } from 'yaml';

/** Alias expansions allowed per document; the yaml package refuses more (resource exhaustion). */
export const MAX_YAML_ALIASES = 100;

export type YamlPath = readonly (string | number)[];

/** Why a YAML input cannot be used: reason, line (1-based) and JSON path where known. */
export class YamlSourceError extends Error {
  constructor(
    readonly reason: string,
    readonly line?: number,
    readonly path?: string,
  ) {
    super(reason);
    this.name = 'YamlSourceError';
  }
}

export interface YamlSource {
  data: unknown;
  /** Line of the node at `path`, or of its nearest ancestor the document has. */
  lineOf(path: YamlPath): number | undefined;
}

/** JSON Pointer of a path, `/` for the root. */
export function pointerOf(path: YamlPath): string {
  return path.length === 0
    ? '/'
    : `/${path.map((s) => String(s).replace(/~/g, '~0').replace(/\//g, '~1')).join('/')}`;
}

/** The path a JSON Pointer names (ajv's instancePath), array indices as numbers: pointerOf's inverse. */
export function pathOfPointer(pointer: string): (string | number)[] {
  if (!pointer || pointer === '/') return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** Parses YAML text to plain data. Throws YamlSourceError. */
export function readYaml(text: string): YamlSource {
  const lineCounter = new LineCounter();
  let doc: ReturnType<typeof parseDocument>;
  try {
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  } catch (err) {
    throw new YamlSourceError(`YAML cannot be parsed: ${firstLine(err)}`);
  }
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const line = e.linePos?.[0]?.line ?? lineCounter.linePos(e.pos[0]).line;
    throw new YamlSourceError(`YAML syntax: ${e.message.split('\n')[0]}`, line);
  }
  const lineOf = (path: YamlPath): number | undefined => {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = depth === 0 ? doc.contents : doc.getIn(path.slice(0, depth), true);
      if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
    }
    return undefined;
  };
  const data = yamlToJs(doc, text);
  return { data, lineOf };
}

/**
 * A parsed document as plain data, aliases capped at MAX_YAML_ALIASES expansions. Throws
 * YamlSourceError (with the line of the first alias when `text` is given).
 */
export function yamlToJs(doc: Pick<Document, 'toJS'>, text?: string): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_YAML_ALIASES });
  } catch (err) {
    if (err instanceof ReferenceError && /alias/i.test(err.message)) {
      const alias = text === undefined ? null : /\*[A-Za-z0-9_-]+/.exec(text);
      const line = alias && text ? text.slice(0, alias.index).split('\n').length : undefined;
      throw new YamlSourceError(
        `too many YAML aliases: expanding them would exceed ${MAX_YAML_ALIASES} copies (alias bomb?)`,
        line,
      );
    }
    // Nesting deep enough to overflow the stack, or anything else the parser cannot represent.
    throw new YamlSourceError(`YAML cannot be read: ${firstLine(err)}`);
  }
}

function firstLine(err: unknown): string {
  const message = err instanceof RangeError ? 'nested too deeply' : String((err as Error)?.message ?? err);
  return message.split('\n')[0]!.slice(0, 200);
}

/**
 * The first number that is NaN or ±Infinity (YAML `.nan`, `.inf`), depth first in document order,
 * skipping paths where `allowed` says infinity means "no limit".
 */
export function findNonFinite(
  data: unknown,
  allowed: (path: YamlPath, value: number) => boolean = () => false,
): { path: (string | number)[]; value: number } | undefined {
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value: data, path: [] }];
  while (stack.length > 0) {
    const { value, path } = stack.pop()!;
    if (typeof value === 'number') {
      if (!Number.isFinite(value) && (Number.isNaN(value) || !allowed(path, value))) return { path, value };
    } else if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: [...path, i] });
    } else if (value !== null && typeof value === 'object') {
      const entries = Object.entries(value);
      for (let i = entries.length - 1; i >= 0; i--)
        stack.push({ value: entries[i]![1], path: [...path, entries[i]![0]] });
    }
  }
  return undefined;
}

/** The YAML spelling of a non-finite number, for messages. */
export function yamlSpelling(value: number): string {
  return Number.isNaN(value) ? '.nan' : value > 0 ? '.inf' : '-.inf';
}

/** A problem in a YAML input and where it is, for the caller to raise as its own error type. */
export interface YamlProblem {
  reason: string;
  line: number | undefined;
  path?: string;
}

/**
 * Reads a YAML document that must be a mapping whose numbers are all finite (but those `allowed`),
 * raising the first problem as the caller's error: `fail` builds it, `messages` say what the
 * document must be and, after the offending value's spelling, why a non-finite number is refused.
 */
export function readYamlMapping(
  text: string,
  fail: (problem: YamlProblem) => Error,
  messages: { notMapping: string; nonFinite: string },
  allowed?: (path: YamlPath, value: number) => boolean,
): YamlSource & { data: Record<string, unknown> } {
  let source: YamlSource;
  try {
    source = readYaml(text);
  } catch (err) {
    if (err instanceof YamlSourceError) throw fail({ reason: err.reason, line: err.line });
    throw err;
  }
  const { data, lineOf } = source;
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw fail({ reason: messages.notMapping, line: 1 });
  }
  const bad = findNonFinite(data, allowed);
  if (bad) {
    throw fail({
      reason: `${yamlSpelling(bad.value)} ${messages.nonFinite}`,
      line: lineOf(bad.path),
      path: pointerOf(bad.path),
    });
  }
  return { data: data as Record<string, unknown>, lineOf };
}
