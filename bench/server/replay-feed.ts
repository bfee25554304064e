/**
 * A recorded run replayed onto the live page (`gridloop replay <run-folder> --serve`): the same
 * server, socket API and page as a live run, watch-only. States come from the replayed twin (the
 * run's twin rebuilt and re-driven step by step, bench/recording/replay-run.ts); events and
 * detector evaluations come from the recording (events.jsonl, the `detector` points), each
 * published once replay time reaches its twin time. The detectors are not re-run: the page shows
 * the alarms the run raised, so a replay carries the same attack and alarm marks, χ² chart
 * included, as the live run (or `gridloop attack` run) had; a recording older than attack event
 * data gets its marks rebuilt from its event text and detector points.
 */
import type { TwinState } from '../../twin/api.ts';
import type { DetectorSample } from '../../twin/detection/alarms.ts';
import { loadGridFile } from '../../twin/files.ts';
import { type RunManifest, readManifest } from '../recording/manifest.ts';
import { withAttackMarks } from '../recording/older-events.ts';
import { type RecordedEvent, readRunEvents, readRunPoints } from '../recording/read-run.ts';
import type { Snapshot } from '../runtime/messages.ts';
import { copySnapshotOfState } from '../runtime/snapshot-points.ts';
import type { RunStatus } from './api.ts';
import { type LiveServer, startLiveServer } from './live-server.ts';
import type { AccessToken } from './tokens.ts';
import { topologyFromGrid } from './topology.ts';
import { LiveStateBuilder, liveEventOf } from './twin-bridge.ts';

/** Recorded events a class does not need on the timeline: who connected, scenario bookkeeping. */
const NOT_SHOWN = new Set(['audit', 'scenario-status']);

export interface ReplayFeedOptions {
  /** @default '127.0.0.1' */
  host?: string;
  /** 0 picks a free port. */
  port: number;
  tokens: readonly AccessToken[];
  /** States offered to the page per second of twin time. @default 50 */
  states_hz?: number;
}

export class ReplayFeed {
  private readonly states: LiveStateBuilder;
  private snapshot: Snapshot | undefined;
  private nextEvent = 0;
  private nextSample = 0;
  private nextState_s = 0;

  private constructor(
    readonly server: LiveServer,
    private readonly manifest: RunManifest,
    private readonly runDir: string,
    private readonly events: RecordedEvent[],
    private readonly samples: DetectorSample[],
    states: LiveStateBuilder,
    private readonly statePeriod_s: number,
  ) {
    this.states = states;
  }

  /** Reads what the page needs of the run folder and starts the (watch-only) server. */
  static async open(dir: string, options: ReplayFeedOptions): Promise<ReplayFeed> {
    const manifest = await readManifest(dir);
    const grid = manifest.loop?.twin?.grid;
    if (!grid) throw new Error(`${dir}/manifest.json: $.loop.twin.grid is missing`);
    const loaded = await loadGridFile(grid);
    const topology = topologyFromGrid(loaded.grid, {
      hardware: loaded.config.hardware,
      hardwareDevices: (manifest.loop?.devices ?? []).map((d) => d.id),
    });
    const start_ns = BigInt(manifest.start_ns);
    const samples: DetectorSample[] = (await readRunPoints(dir))
      .filter((p) => p.measurement === 'detector')
      .map((p) => ({
        t_s: Number(p.time_ns - start_ns) / 1e9,
        detector: String(p.tags.detector),
        statistic: Number(p.fields.statistic),
        threshold: Number(p.fields.threshold),
        alarm: p.fields.alarm === true,
      }))
      .sort((a, b) => a.t_s - b.t_s);
    // Recordings older than attack event data get their marks back (bench/recording/older-events.ts).
    const events = withAttackMarks(
      (await readRunEvents(dir)).filter((e) => !NOT_SHOWN.has(e.kind)).sort((a, b) => a.t_s - b.t_s),
      samples,
    );
    // Watch-only: no onCommand, so every command is refused as unavailable.
    const server = await startLiveServer({
      host: options.host ?? '127.0.0.1',
      port: options.port,
      tokens: options.tokens,
      topology,
    });
    const feed = new ReplayFeed(
      server,
      manifest,
      dir,
      events,
      samples,
      new LiveStateBuilder(topology),
      1 / (options.states_hz ?? 50),
    );
    feed.status('starting', 0);
    return feed;
  }

  get url(): string {
    return this.server.url;
  }

  /** Resolves once a page (any role) is connected. */
  async firstClient(): Promise<void> {
    const connected = () => Object.values(this.server.clients()).some((n) => n > 0);
    while (!connected()) await new Promise((r) => setTimeout(r, 50));
  }

  /** Call after every replayed step: publishes what the run had by this twin time. */
  afterStep(state: TwinState): void {
    const t = state.t_s;
    const due: DetectorSample[] = [];
    while (this.nextSample < this.samples.length && this.samples[this.nextSample].t_s <= t + 1e-9)
      due.push(this.samples[this.nextSample++]);
    if (due.length) this.states.absorbDetectorSamples(due);
    while (this.nextEvent < this.events.length && this.events[this.nextEvent].t_s <= t + 1e-9) {
      const { time_ns: _ns, source: _source, ...event } = this.events[this.nextEvent++];
      this.server.publishEvent(liveEventOf(event));
    }
    if (t + 1e-9 < this.nextState_s) return;
    if (this.nextState_s === 0) this.status('running', t);
    this.nextState_s = t + this.statePeriod_s;
    const snapshot = copySnapshotOfState(state, { lateness_us: 0, work_us: 0, overruns: 0 }, this.snapshot);
    if (!this.snapshot) {
      snapshot.busIds = [...state.busIds];
      this.snapshot = snapshot;
    }
    snapshot.islandBuses = state.islands.map((island) => [...island.buses]);
    this.states.absorb(snapshot);
    this.server.publishState(this.states.build(snapshot));
  }

  /** The replay reached its end (or was stopped): the page says so; the server stays up. */
  finished(t_s: number): void {
    this.status('stopped', t_s);
  }

  private status(state: RunStatus['state'], t_s: number): void {
    this.server.publishStatus({
      runId: this.manifest.id,
      state,
      t_s,
      dt_s: this.manifest.dt_s ?? 0,
      runDir: this.runDir,
      scenario: `replay of ${this.manifest.scenario ?? this.manifest.id}`,
    });
  }

  close(): Promise<void> {
    return this.server.close();
  }
}
