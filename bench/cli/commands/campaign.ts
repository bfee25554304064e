import { existsSync, statSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { campaignInflux } from '../../campaigns/influx.ts';
import { CampaignError, loadCampaign } from '../../campaigns/load.ts';
import { WorkerPool } from '../../campaigns/pool.ts';
import { type CampaignProgress, terminalProgress } from '../../campaigns/progress.ts';
import { RedisBackend, RedisSetupError } from '../../campaigns/redis.ts';
import { runCampaign } from '../../campaigns/run.ts';
import { codeVersion } from '../../campaigns/version.ts';
import { InfluxConfigError } from '../../config/influx-env.ts';
import { type LiveServer, startLiveServer } from '../../server/live-server.ts';
import { resolveAccessTokens } from '../../server/tokens.ts';
import { numberOption, parseCommandArgs } from '../args.ts';
import type { Command } from '../command.ts';
import { ExitCode, runtimeError, usageError } from '../exit-codes.ts';

const help = `Usage: gridloop campaign <campaign.yaml> [options]

Runs a campaign: every combination of its base scenario(s) and parameter axes, each run recorded
as \`gridloop simulate\` records it, and judges the campaign against its pass criteria. The format
is in docs/campaigns.md (JSON Schema bench/campaigns/campaign.schema.json).

By default the runs go to a pool of worker processes on this machine, one per core. With --redis
they become BullMQ jobs on that Redis; \`gridloop worker --redis URL\` on any machine (same gridloop
version) takes them. Same results either way.

The campaign folder holds results/<run id>.json (one per finished run), runs/<run id>/ (the run
folders of local runs), results.csv and results.jsonl (parameters × outcomes), junit.xml (one test
case per run), report.html and verdict.json. Running the same campaign again into the same folder
skips the runs already done (a changed scenario or grid is run again).

Options:
  --out DIR        the campaign folder (default: runs/campaigns/<campaign name>)
  --workers N      embedded worker processes (default: the number of cores)
  --redis URL      distribute the runs as BullMQ jobs on this Redis (redis://host:port)
  --stall-s S      with --redis: a job whose worker stops renewing its lock for S seconds is
                   retried elsewhere (default 30, BullMQ's own default; see docs/campaigns.md)
  --progress S     progress line every S seconds when stderr is not a terminal (default 5; 0 none)
  --serve PORT     publish the progress on the live page and socket API (event 'campaign') at
                   http://HOST:PORT/ while the campaign runs (0: a free port); tokens as for
                   gridloop start (GRIDLOOP_VIEWER_TOKEN…, random ones printed otherwise)
  --host HOST      with --serve: the address to listen on (default 127.0.0.1)
  --json           print one JSON object with the verdict and counts at the end

With GRIDLOOP_INFLUX_URL (and its companions, docs/cli.md) set, one campaign_run point per run
goes to InfluxDB as results arrive (docs/campaigns.md).

Exit codes: 0 the campaign passed its criteria, 1 it did not, 2 bad arguments or campaign file
(file:line and what to do), 3 a runtime failure (Redis unreachable, folder not writable).`;

export const campaignCommand: Command = {
  name: 'campaign',
  summary: 'run many scenarios (parameter axes) on a local worker pool or BullMQ on Redis',
  help,
  async run(argv) {
    const { values, positionals } = parseCommandArgs('campaign', argv, {
      out: { type: 'string' },
      workers: { type: 'string' },
      redis: { type: 'string' },
      'stall-s': { type: 'string' },
      progress: { type: 'string' },
      serve: { type: 'string' },
      host: { type: 'string' },
      json: { type: 'boolean' },
    });
    if (positionals.length !== 1)
      throw usageError('gridloop campaign: give exactly one campaign file (see --help)');
    const file = resolve(positionals[0]!);
    if (!existsSync(file) || statSync(file).isDirectory())
      throw usageError(
        `gridloop campaign: campaign file '${positionals[0]}' does not exist or is a folder; the shipped ones are in campaigns/, e.g. campaigns/mg2-load-step-sweep.yaml`,
      );
    const workers = values.workers
      ? numberOption('campaign', 'workers', values.workers, 1, 1, 1024)
      : undefined;
    if (workers !== undefined && !Number.isInteger(workers))
      throw usageError(`gridloop campaign: --workers must be a whole number, got '${values.workers}'`);
    const stall_s = numberOption('campaign', 'stall-s', values['stall-s'], 30, 1, 3600);
    const progressEvery = numberOption('campaign', 'progress', values.progress, 5, 0);
    let campaign: Awaited<ReturnType<typeof loadCampaign>>;
    try {
      campaign = await loadCampaign(file);
    } catch (err) {
      if (err instanceof CampaignError) throw usageError(`gridloop campaign: ${err.message}`);
      throw err;
    }
    const dir = resolve(values.out ?? `runs/campaigns/${campaign.name}`);
    const version = codeVersion();
    let influx: Awaited<ReturnType<typeof campaignInflux>>;
    try {
      influx = await campaignInflux(campaign, dir);
    } catch (err) {
      if (err instanceof InfluxConfigError) throw usageError(`gridloop campaign: ${err.message}`);
      throw err;
    }
    let backend: WorkerPool | RedisBackend;
    if (values.redis) {
      try {
        backend = await RedisBackend.connect({
          url: values.redis,
          campaign,
          dir,
          version,
          stall_s,
          log: (line) => console.error(`gridloop campaign: ${line}`),
        });
      } catch (err) {
        if (err instanceof RedisSetupError) throw runtimeError(`gridloop campaign: ${err.message}`);
        throw err;
      }
    } else {
      backend = new WorkerPool({
        workDir: dir,
        columns: campaign.figureColumns,
        workers,
        retries: campaign.retries,
      });
    }
    const terminal =
      values.json && values.progress === undefined ? undefined : terminalProgress(progressEvery);
    let server: LiveServer | undefined;
    if (values.serve !== undefined) {
      const port = numberOption('campaign', 'serve', values.serve, 0, 0, 65535);
      let tokens: ReturnType<typeof resolveAccessTokens>['tokens'];
      try {
        tokens = resolveAccessTokens(process.env).tokens;
      } catch (err) {
        await backend.close();
        throw usageError(`gridloop campaign: ${(err as Error).message}`);
      }
      try {
        server = await startLiveServer({ host: values.host ?? '127.0.0.1', port, tokens });
      } catch (err) {
        await backend.close();
        throw runtimeError(`gridloop campaign: --serve ${port}: ${(err as Error).message}`);
      }
      const viewer = tokens.find((t) => t.role === 'viewer')!.token;
      // The token in the fragment: browsers never send it, so no server or proxy log holds it.
      console.error(
        `gridloop campaign: progress live at ${server.url}#token=${viewer} (socket.io event 'campaign')`,
      );
    }
    const onProgress =
      terminal || server
        ? (p: CampaignProgress) => {
            terminal?.(p);
            server?.publishCampaign(p);
          }
        : undefined;
    if (!values.json)
      console.error(
        `gridloop campaign: ${campaign.name}: ${campaign.runs.length} runs into ${relative(process.cwd(), dir) || '.'} (${
          values.redis ? `BullMQ on ${values.redis}` : `${(backend as WorkerPool).size} local workers`
        }, version ${version})`,
      );
    let outcome: Awaited<ReturnType<typeof runCampaign>>;
    const stop = () => {
      void backend.close();
    };
    process.once('SIGINT', stop);
    try {
      outcome = await runCampaign(campaign, { dir, backend, version, onProgress, onResult: influx?.write });
      // The final counts, also when a re-run found every run done (no progress was made).
      server?.publishCampaign(outcome.progress);
    } catch (err) {
      throw runtimeError(`gridloop campaign: ${campaign.name} failed: ${(err as Error).message}`);
    } finally {
      process.removeListener('SIGINT', stop);
      await backend.close();
      await influx?.close();
      await server?.close();
    }
    const v = outcome.verdict;
    if (values.json) {
      console.log(
        JSON.stringify({
          campaign: campaign.name,
          dir: relative(process.cwd(), dir) || '.',
          passed: v.passed,
          verdict: v.summary,
          runs: v.runs,
          passedRuns: v.passedRuns,
          failedRuns: v.failedRuns,
          errorRuns: v.errorRuns,
          missing: v.missing,
          skipped: outcome.skipped,
          ran: outcome.ran,
          duplicates: outcome.duplicates,
          version,
        }),
      );
    } else {
      console.log(`${v.passed ? 'PASSED' : 'FAILED'} (${v.summary})`);
      console.log(
        `campaign folder: ${relative(process.cwd(), dir) || '.'} (report.html, results.csv, junit.xml)`,
      );
    }
    return v.missing > 0 ? ExitCode.runtime : v.passed ? ExitCode.ok : ExitCode.assertionsFailed;
  },
};
