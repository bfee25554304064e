/**
 * The campaign folder (docs/campaigns.md § Campaign folder): `results/<run id>.json`, one file per
 * finished run, is the record; a run is done exactly when its file exists with the current spec
 * hash. Files are written once, atomically (temp file + link, which fails if it exists), so two
 * workers finishing the same run (a stalled job retried while the first still ran) leave one
 * result, and a coordinator killed mid-write leaves none rather than half of one. The table, JUnit
 * XML and HTML report are derived from the results and rewritten at the end of every campaign run.
 */
import { randomUUID } from 'node:crypto';
import { link, mkdir, readdir, readFile, rm, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { RunResult } from './execute.ts';
import type { Campaign } from './load.ts';

export class CampaignStore {
  readonly resultsDir: string;

  constructor(readonly dir: string) {
    this.resultsDir = join(dir, 'results');
  }

  async open(campaign: Campaign, version: string): Promise<void> {
    await mkdir(this.resultsDir, { recursive: true });
    await writeFile(
      join(this.dir, 'campaign.json'),
      `${JSON.stringify(
        {
          name: campaign.name,
          file: campaign.file,
          key: campaign.key,
          version,
          runs: campaign.runs.length,
          columns: campaign.columns,
          figures: campaign.figureColumns,
          pass: campaign.pass,
        },
        null,
        2,
      )}\n`,
    );
  }

  /** Results already stored: id → result (only those with the campaign's current spec hash). */
  async done(campaign: Campaign): Promise<Map<string, RunResult>> {
    const want = new Map(campaign.runs.map((r) => [r.id, r.specHash]));
    const done = new Map<string, RunResult>();
    let names: string[] = [];
    try {
      names = await readdir(this.resultsDir);
    } catch {
      return done;
    }
    for (const name of names) {
      if (!name.endsWith('.json')) continue;
      const id = name.slice(0, -'.json'.length);
      if (!want.has(id)) continue;
      try {
        const result = JSON.parse(await readFile(join(this.resultsDir, name), 'utf8')) as RunResult;
        if (result.specHash === want.get(id)) done.set(id, result);
        // A result of an older version of the run (scenario or grid changed) is redone.
        else await unlink(join(this.resultsDir, name));
      } catch {
        await unlink(join(this.resultsDir, name)).catch(() => {});
      }
    }
    return done;
  }

  /**
   * Stores a run's result unless one is already there. Returns false for a duplicate (the first
   * result stands: results are never duplicated nor overwritten).
   */
  async put(result: RunResult): Promise<boolean> {
    const tmp = join(this.resultsDir, `.${result.id}.${randomUUID()}.tmp`);
    await writeFile(tmp, `${JSON.stringify(result, null, 1)}\n`);
    try {
      await link(tmp, join(this.resultsDir, `${result.id}.json`));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
      throw err;
    } finally {
      await rm(tmp, { force: true });
    }
  }
}
