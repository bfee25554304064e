/**
 * C reference library: unit tests under AddressSanitizer + UBSan, warning-free builds under
 * -Wall -Wextra -Werror with gcc and clang, compile-time configuration checks, and bounded
 * libFuzzer runs of the decoder and of the device models.
 */

import { execFile } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { C_SOURCE_DIR, makeBuildDir, makeTarget } from '../firmware-protocol/host/make.ts';
import { loadGoldenVectors } from '../firmware-protocol/ts/test-support.ts';
import { budget } from './support/machine-speed.ts';

const execFileAsync = promisify(execFile);
let buildDir: string;

beforeAll(async () => {
  buildDir = await makeBuildDir('gridloop-c-test-');
});
afterAll(async () => {
  await rm(buildDir, { recursive: true, force: true });
});

describe('C reference library', () => {
  it('unit tests pass under AddressSanitizer and UBSan', async () => {
    const { stdout } = await makeTarget('test', buildDir);
    expect(stdout).toMatch(/\d+ checks, 0 failures/);
  });

  // gcc builds the library with these flags for the unit tests above and the boards in host/boards.ts;
  // clang is checked here so both compilers stay warning-free.
  it('library and both boards build without warnings under -Wall -Wextra -Werror (clang)', async () => {
    await makeTarget('boards', join(buildDir, 'clang'), { CC: 'clang' });
  });

  it('the config header stops a build whose payload limit cannot hold the largest message', async () => {
    const dir = join(buildDir, 'small');
    await expect(makeTarget('all', dir, { CFLAGS: '-DGLP_MAX_PAYLOAD=40' })).rejects.toThrow(
      /GLP_MAX_PAYLOAD must hold the largest message/,
    );
  });

  it('builds a whole board without signing support (GLP_ENABLE_SIGNING=0)', async () => {
    const c = (p: string) => join(C_SOURCE_DIR, p);
    await execFileAsync('cc', [
      '-std=c99',
      '-D_POSIX_C_SOURCE=200809L',
      '-D_XOPEN_SOURCE=600',
      '-DGLP_ENABLE_SIGNING=0',
      '-Wall',
      '-Wextra',
      '-Werror',
      `-I${c('include')}`,
      `-I${c('firmware')}`,
      ...['src/glp_codec.c', 'src/glp_sha256.c', 'src/glp_link.c'].map(c),
      ...['board.c', 'battery.c', 'inverter.c', 'hal_posix.c', 'main_battery.c'].map((f) =>
        c(`firmware/${f}`),
      ),
      '-lm',
      '-o',
      join(buildDir, 'nosign-board'),
    ]);
  });

  it('library and firmware logic need nothing beyond C99 (no POSIX): the microcontroller part', async () => {
    const c = (p: string) => join(C_SOURCE_DIR, p);
    const portable = ['src/glp_codec.c', 'src/glp_sha256.c', 'src/glp_link.c', 'firmware/board.c'];
    for (const source of [...portable, 'firmware/battery.c', 'firmware/inverter.c']) {
      await execFileAsync('cc', [
        '-std=c99',
        '-pedantic',
        '-Wall',
        '-Wextra',
        '-Werror',
        '-Wconversion',
        '-Wno-sign-conversion',
        `-I${c('include')}`,
        `-I${c('firmware')}`,
        '-c',
        c(source),
        '-o',
        join(buildDir, 'portable.o'),
      ]);
    }
  });
});

describe('libFuzzer harnesses (bounded runs)', () => {
  async function fuzz(harness: string, corpus: string, seconds: number): Promise<string> {
    const { stderr } = await execFileAsync(
      join(buildDir, harness),
      [`-max_total_time=${seconds}`, '-seed=1', '-rss_limit_mb=512', corpus],
      { maxBuffer: 64 << 20 },
    );
    return stderr;
  }

  it('the C decoder, from the golden-vector seeds: no crash, every event counted', {
    timeout: budget(90_000),
  }, async () => {
    await makeTarget('fuzz', buildDir);
    const corpus = join(buildDir, 'corpus-decoder');
    await mkdir(corpus, { recursive: true });
    const vectors = loadGoldenVectors();
    const seeds = [...vectors.frames, ...vectors.bad].map((v) => v.wire);
    let i = 0;
    for (const hex of seeds) {
      // First byte selects the harness mode: chunk size and signing policy.
      for (const mode of [0x00, 0x07, 0xc0]) {
        await writeFile(
          join(corpus, `seed-${i++}`),
          Buffer.concat([Buffer.of(mode), Buffer.from(hex, 'hex')]),
        );
      }
    }
    const stderr = await fuzz('fuzz-decoder', corpus, 4);
    expect(stderr).toMatch(/Done \d+ runs/);
    expect(stderr).not.toMatch(/ERROR: (AddressSanitizer|libFuzzer)|runtime error/);
  });

  it('the device models: outputs stay finite and within ratings, SoC within [0, 1]', {
    timeout: budget(90_000),
  }, async () => {
    await makeTarget('fuzz', buildDir);
    const corpus = join(buildDir, 'corpus-models');
    await mkdir(corpus, { recursive: true });
    const stderr = await fuzz('fuzz-models', corpus, 3);
    expect(stderr).toMatch(/Done \d+ runs/);
    expect(stderr).not.toMatch(/ERROR: (AddressSanitizer|libFuzzer)|runtime error/);
  });
});
