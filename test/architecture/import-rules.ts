/**
 * The import rules between the project's rooms, and the checker that enforces them.
 *
 * Imports are read with TypeScript's own parser (static `import`/`export … from`, `import type`,
 * `import('…')`, `require('…')` and `import('…').T` type references), so a specifier inside a string or
 * a comment never counts and a multi-line import never slips past. Only relative specifiers are
 * resolved: packages (`yaml`, `node:fs`) belong to no room.
 *
 * Two checks:
 * - **rooms**: each file's imports must respect the rules of the room it sits in (ROOM_RULES below);
 * - **cycles**: no cycle between folders (a file's folder is its directory: `twin`, `twin/attacks`,
 *   `bench/devices`…). A cycle between folders means neither can be understood, tested or moved
 *   without the other; inside one folder files may import each other freely.
 *
 * Type-only imports count: a type is part of the contract between rooms just as a value is.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

/** The files the twin publishes to the rooms that plug into it (vpp/, market/). Adding a file here is
 * a decision about the twin's public surface, not a convenience. */
export const TWIN_CONTRACT_FILES: readonly string[] = ['twin/api.ts', 'twin/control/contract.ts'];

export interface RoomRule {
  /** The room: a path prefix relative to the project root, with a trailing slash. */
  readonly room: string;
  /** Why the rule exists, printed with every violation. */
  readonly why: string;
  /** The importing file may only reach files under these prefixes (or exactly these files). */
  readonly onlyFrom?: readonly string[];
  /** The importing file may not reach files under these prefixes. */
  readonly never?: readonly string[];
}

/**
 * The rules (docs/architecture.md states them in prose). A file's rule is that of the longest room
 * prefix it sits under; a file under no room is free (bench/, test/, benchmarks/, scripts/, bin/).
 */
export const ROOM_RULES: readonly RoomRule[] = [
  {
    room: 'twin/',
    onlyFrom: ['twin/'],
    why: 'the twin is the deterministic core: it imports nothing from the rest of the project',
  },
  {
    room: 'firmware-protocol/ts/',
    onlyFrom: ['firmware-protocol/ts/'],
    why: 'the firmware-protocol codec stands alone (no twin/, no bench/), so it can ship without them',
  },
  {
    room: 'firmware-protocol/',
    never: ['twin/', 'bench/', 'dashboards/', 'flows/', 'vpp/', 'market/'],
    why: 'firmware-protocol/ (codec and host board tooling) is a library the bench uses, not the reverse',
  },
  {
    room: 'dashboards/',
    never: ['twin/', 'vpp/', 'market/'],
    why: 'dashboards read the recorder schema, never the twin',
  },
  {
    room: 'flows/',
    never: ['twin/', 'vpp/', 'market/'],
    why: 'Node-RED nodes speak the socket.io API, never the twin',
  },
  {
    room: 'vpp/',
    onlyFrom: ['vpp/', 'market/', ...TWIN_CONTRACT_FILES],
    why: "the virtual power plant plugs into the twin's contract only (twin/api.ts, twin/control/contract.ts), never its internals or bench/",
  },
  {
    room: 'market/',
    onlyFrom: ['market/', 'vpp/', ...TWIN_CONTRACT_FILES],
    why: "the market plugs into the twin's contract only (twin/api.ts, twin/control/contract.ts), never its internals or bench/",
  },
];

/**
 * Cycles known on main and being removed by the issue-18 redesign; a cycle found is tolerated when all
 * its folders are inside one entry (so a partial fix keeps passing). Nothing may be added here.
 */
export const KNOWN_FOLDER_CYCLES: readonly (readonly string[])[] = [
  // TODO(issue 18): attacks/engine.ts uses detection/state-estimation.ts while detection/metrics.ts
  // types its input with attacks/engine.ts (the core no longer imports either: twin ↔ attacks is gone).
  ['twin/attacks', 'twin/detection'],
  // TODO(issue 18): dynamics/ems.ts types its units with der/unit.ts while der/battery.ts uses
  // dynamics/governor.ts; the EMS becomes a controller (core helper); remove this entry at merge.
  ['twin/der', 'twin/dynamics', 'twin/ieee1547'],
  // TODO(issue 18): device config types live in runtime/messages.ts, which devices/ and recording/
  // import while runtime/ imports them (bench helper); remove this entry at merge.
  ['bench/attacks', 'bench/devices', 'bench/recording', 'bench/runtime'],
];

/** Source files the checker reads. */
const SOURCE_EXTENSIONS = ['.ts', '.mts', '.cts', '.js', '.mjs', '.cjs'];
const SKIPPED_DIRECTORIES = new Set(['node_modules', 'runs', 'generated', 'build', 'test-artifacts', '.git']);

export interface ImportEdge {
  /** Project-relative path of the importing file (forward slashes). */
  readonly from: string;
  /** Project-relative path of the imported file. */
  readonly to: string;
  /** 1-based line of the import in `from`. */
  readonly line: number;
  readonly specifier: string;
}

export interface RuleViolation {
  readonly edge: ImportEdge;
  readonly rule: RoomRule;
}

/** Every source file under root (project-relative, forward slashes) with its text. */
export function readSourceTree(root: string): Map<string, string> {
  const files = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (name.startsWith('.') || SKIPPED_DIRECTORIES.has(name)) continue;
      const full = path.join(dir, name);
      if (statSync(full).isDirectory()) walk(full);
      else if (SOURCE_EXTENSIONS.includes(path.extname(name)) && !name.endsWith('.d.ts')) {
        files.set(path.relative(root, full).split(path.sep).join('/'), readFileSync(full, 'utf8'));
      }
    }
  };
  walk(root);
  return files;
}

/** The module specifiers a file names, with their lines, read by TypeScript's parser. */
export function importSpecifiers(fileName: string, text: string): { specifier: string; line: number }[] {
  const source = ts.createSourceFile(fileName, text, ts.ScriptTarget.Latest, false);
  const found: { specifier: string; line: number }[] = [];
  // The line reported is where the import statement starts, as an editor shows it.
  const add = (literal: ts.Node | undefined, statement: ts.Node): void => {
    if (literal && ts.isStringLiteralLike(literal)) {
      const line = source.getLineAndCharacterOfPosition(statement.getStart(source)).line + 1;
      found.push({ specifier: literal.text, line });
    }
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) || ts.isExportDeclaration(node)) add(node.moduleSpecifier, node);
    else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, node);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument))
      add(node.argument.literal, node);
    else if (
      ts.isCallExpression(node) &&
      (node.expression.kind === ts.SyntaxKind.ImportKeyword ||
        (ts.isIdentifier(node.expression) && node.expression.text === 'require'))
    ) {
      add(node.arguments[0], node);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

/** Resolves a relative specifier to a file of the tree (TS-style: `.js` may name a `.ts` file). */
function resolve(files: ReadonlyMap<string, string>, from: string, specifier: string): string | undefined {
  if (!specifier.startsWith('.')) return undefined;
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  const stem = base.replace(/\.(m|c)?js$/, '');
  const candidates = [
    base,
    `${stem}.ts`,
    `${stem}.mts`,
    `${stem}.cts`,
    ...SOURCE_EXTENSIONS.map((ext) => `${base}${ext}`),
    ...SOURCE_EXTENSIONS.map((ext) => `${base}/index${ext}`),
  ];
  return candidates.find((candidate) => files.has(candidate)) ?? (base.startsWith('..') ? undefined : base);
}

/** Every relative import between files of the tree (imports of files that do not exist are kept, so a
 * rule still fires on them: the path says which room they point into). */
export function importEdges(
  files: ReadonlyMap<string, string>,
  only: Iterable<string> = files.keys(),
): ImportEdge[] {
  const edges: ImportEdge[] = [];
  for (const from of only) {
    for (const { specifier, line } of importSpecifiers(from, files.get(from) ?? '')) {
      const to = resolve(files, from, specifier);
      if (to !== undefined) edges.push({ from, to, line, specifier });
    }
  }
  return edges;
}

/** Tests are leaves (nothing imports them): what a test imports says what it exercises, not what its
 * folder depends on, so tests stay out of the folder graph; a test may also use the shared test/support/. */
export const isTestFile = (file: string): boolean => /\.test(-d)?\.[cm]?[jt]s$/.test(file);
const TEST_SUPPORT = 'test/support/';

const under = (file: string, prefix: string): boolean =>
  prefix.endsWith('/') ? file.startsWith(prefix) : file === prefix;

/** The rule of the room a file sits in (longest prefix), if any. */
export function ruleFor(file: string, rules: readonly RoomRule[] = ROOM_RULES): RoomRule | undefined {
  let best: RoomRule | undefined;
  for (const rule of rules) {
    if (file.startsWith(rule.room) && (!best || rule.room.length > best.room.length)) best = rule;
  }
  return best;
}

/** Imports that break their room's rule. */
export function roomViolations(
  edges: readonly ImportEdge[],
  rules: readonly RoomRule[] = ROOM_RULES,
): RuleViolation[] {
  const violations: RuleViolation[] = [];
  for (const edge of edges) {
    const rule = ruleFor(edge.from, rules);
    if (!rule) continue;
    const allowed =
      !rule.onlyFrom ||
      rule.onlyFrom.some((prefix) => under(edge.to, prefix)) ||
      (isTestFile(edge.from) && under(edge.to, TEST_SUPPORT));
    const forbidden = rule.never?.some((prefix) => under(edge.to, prefix)) ?? false;
    if (!allowed || forbidden) violations.push({ edge, rule });
  }
  return violations;
}

const folderOf = (file: string): string => path.posix.dirname(file);
const isAncestor = (a: string, b: string): boolean => a === '.' || b.startsWith(`${a}/`);

/** Strongly connected components with more than one node (Tarjan), each sorted. */
function cyclicComponents(graph: ReadonlyMap<string, ReadonlyMap<string, ImportEdge>>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;
  const connect = (v: string): void => {
    index.set(v, next);
    low.set(v, next);
    next++;
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        connect(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1) components.push(component.sort());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) connect(v);
  return components;
}

function addEdge(graph: Map<string, Map<string, ImportEdge>>, a: string, b: string, edge: ImportEdge): void {
  const out = graph.get(a) ?? new Map<string, ImportEdge>();
  graph.set(a, out);
  if (!out.has(b)) out.set(b, edge);
}

export interface FolderCycle {
  /** The folders the cycle runs through, sorted. */
  readonly folders: string[];
  /** One import per edge of the cycle, as evidence. */
  readonly evidence: ImportEdge[];
}

/**
 * Cycles between folders, found two ways:
 * - between folders that are not each other's ancestor (siblings, cousins: `bench/devices` ↔
 *   `bench/runtime`), on the folder graph;
 * - between a folder and its subfolders, only where files really import each other in a ring
 *   (`twin/twin.ts` → `twin/attacks/live.ts` → … → `twin/twin.ts`): a room's root composing its
 *   subfolders while they share the root's leaf modules (`twin/random.ts`) is layering, not a cycle.
 */
export function folderCycles(edges: readonly ImportEdge[]): FolderCycle[] {
  const folders = new Map<string, Map<string, ImportEdge>>();
  const files = new Map<string, Map<string, ImportEdge>>();
  for (const edge of edges) {
    if (isTestFile(edge.from)) continue;
    const a = folderOf(edge.from);
    const b = folderOf(edge.to);
    if (a !== b) addEdge(files, edge.from, edge.to, edge);
    if (a !== b && !isAncestor(a, b) && !isAncestor(b, a)) addEdge(folders, a, b, edge);
  }
  const cycles: FolderCycle[] = cyclicComponents(folders).map((members) => ({
    folders: members,
    evidence: members.flatMap((a) =>
      [...(folders.get(a)?.entries() ?? [])].filter(([b]) => members.includes(b)).map(([, edge]) => edge),
    ),
  }));
  for (const members of cyclicComponents(files)) {
    const spanned = [...new Set(members.map(folderOf))].sort();
    const seen = cycles.some((cycle) => spanned.every((folder) => cycle.folders.includes(folder)));
    if (spanned.length < 2 || seen) continue;
    cycles.push({
      folders: spanned,
      evidence: members.flatMap((a) =>
        [...(files.get(a)?.entries() ?? [])].filter(([b]) => members.includes(b)).map(([, edge]) => edge),
      ),
    });
  }
  return cycles;
}

const describeEdge = (edge: ImportEdge): string => `${edge.from}:${edge.line} imports '${edge.specifier}'`;

export interface CheckOptions {
  readonly rules?: readonly RoomRule[];
  readonly knownCycles?: readonly (readonly string[])[];
}

/** Human-readable findings for a tree: an empty list means the tree keeps the rules. */
export function checkImportRules(files: ReadonlyMap<string, string>, options: CheckOptions = {}): string[] {
  return checkImportEdges(importEdges(files), options);
}

/** The findings for a tree's import edges (see checkImportRules). */
export function checkImportEdges(edges: readonly ImportEdge[], options: CheckOptions = {}): string[] {
  const known = options.knownCycles ?? KNOWN_FOLDER_CYCLES;
  const findings = roomViolations(edges, options.rules).map(
    ({ edge, rule }) => `${describeEdge(edge)} (→ ${edge.to}): ${rule.room} rule: ${rule.why}`,
  );
  for (const cycle of folderCycles(edges)) {
    if (known.some((entry) => cycle.folders.every((folder) => entry.includes(folder)))) continue;
    findings.push(
      `import cycle between folders ${cycle.folders.join(' ↔ ')}: ${cycle.evidence.map(describeEdge).join('; ')}`,
    );
  }
  return findings;
}
