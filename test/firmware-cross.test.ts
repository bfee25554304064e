/**
 * Cross-language checks: the C codec (through glp-tool, built with ASan + UBSan) against the golden
 * vectors, and TypeScript ↔ C round trips of random messages in both directions.
 */
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBuildDir, makeTarget } from '../firmware-protocol/host/make.ts';
import { decodeFrame, encodeFrame } from '../firmware-protocol/ts/index.ts';
import { arbitraryMessage } from '../firmware-protocol/ts/test-support.ts';
import { describeGoldenVectorChecks, fromTool, hex, toolLine } from './golden-vector-checks.ts';

let buildDir: string;
let tool: string;

beforeAll(async () => {
  buildDir = await makeBuildDir('gridloop-cross-');
  await makeTarget('tool', buildDir);
  tool = join(buildDir, 'glp-tool');
});
afterAll(async () => {
  await rm(buildDir, { recursive: true, force: true });
});

function runTool(args: string[], input: string): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = execFile(tool, args, { maxBuffer: 64 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`glp-tool ${args.join(' ')} failed: ${err.message}\n${stderr}`));
      else resolve(stdout.split('\n').filter((l) => l.length > 0));
    });
    child.stdin?.end(input);
  });
}

describeGoldenVectorChecks('C codec against the golden vectors', runTool);

describe('TypeScript ↔ C round trip', () => {
  const samples = fc.sample(
    fc.tuple(arbitraryMessage(), fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0, max: 0xffff })),
    { numRuns: 400, seed: 20261124 },
  );

  it('TypeScript encodes, C decodes the same messages', async () => {
    const lines = await runTool(
      ['decode'],
      samples.map(([m, seq, dev]) => hex(encodeFrame(m, { seq, deviceId: dev }))).join('\n'),
    );
    samples.forEach(([m, seq, dev], i) => {
      const got = JSON.parse(lines[i]);
      expect(got.status).toBe('OK');
      expect(got.seq).toBe(seq);
      expect(got.deviceId).toBe(dev);
      expect(fromTool(got.message)).toEqual(decodeFrame(encodeFrame(m, { seq, deviceId: dev })).message);
    });
  });

  it('C encodes, TypeScript decodes the same bytes TypeScript would have produced', async () => {
    const lines = await runTool(['encode'], samples.map(([m, seq, dev]) => toolLine(m, seq, dev)).join('\n'));
    samples.forEach(([m, seq, dev], i) => {
      expect(lines[i]).toBe(hex(encodeFrame(m, { seq, deviceId: dev })));
      const frame = decodeFrame(Buffer.from(lines[i], 'hex'));
      expect(frame.message).toEqual(decodeFrame(encodeFrame(m, { seq, deviceId: dev })).message);
    });
  });
});
