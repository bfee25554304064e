import { readdirSync } from 'node:fs';
import { basename, isAbsolute, relative, resolve, sep } from 'node:path';
import { startEmulatedBoard } from '../firmware-protocol/host/boards.ts';
import { isMarketTelemetry, type MarketTelemetry } from '../market/telemetry.ts';
import type { ControllerInput } from '../twin/control/contract.ts';
import { loadGridFile } from '../twin/files.ts';
import { loadScenario } from '../twin/scenario/load.ts';
import { isVppTelemetry, type PreferencesInput } from '../vpp/telemetry.ts';
import { runtimeError, usageError } from './cli/exit-codes.ts';
import { influxTargetFromEnv } from './config/influx-env.ts';
import { MarketPointWriter } from './market/live-points.ts';
import { type EmbeddedNodeRed, embedNodeRed } from './node-red/embedded.ts';
import { assertionResults, InfluxSink, RunRecorder } from './recording/index.ts';
import type { ControllerSpec } from './runtime/controllers/spec.ts';
import { securityRefusal } from './runtime/loop-scenarios.ts';
import type {
  DeviceLinkConfig,
  LoopConfig,
  LoopToHost,
  ScenarioStatus,
  Snapshot,
} from './runtime/messages.ts';
import { LoopNotReadyError, RealtimeRun } from './runtime/realtime-run.ts';
import {
  deviceMicrogrids,
  linkStatsToPoints,
  type PointSink,
  plannedIslands,
  snapshotToPoints,
  updateBusIslands,
} from './runtime/snapshot-points.ts';
import { vppTelemetryToPoints } from './runtime/vpp-points.ts';
import type { AuditEntry } from './server/api.ts';
import {
  CommandInvalidError,
  CommandNotReadyError,
  CommandUnavailableError,
  type LiveServer,
  startLiveServer,
} from './server/live-server.ts';
import { marketLiveViewOf, marketProsumers, withMarket } from './server/market-views.ts';
import { type AccessToken, resolveAccessTokens } from './server/tokens.ts';
import { topologyFromGrid } from './server/topology.ts';
import { LiveStateBuilder, liveEventOf, toTwinCommand } from './server/twin-bridge.ts';
import { ProsumerFeed, vppLiveViewOf } from './server/vpp-views.ts';

export const DEFAULT_DEMO_GRID = 'grids/demo-33bw-microgrids.yaml';
/** The device id the demo grid reserves for a hardware battery controller. */
export const DEMO_BOARD_DEVICE = 'bess-hw';

export interface BenchOptions {
  host: string;
  port: number;
  runsDir: string;
  grid?: string;
  seed: number;
  dt_s: number;
  record_hz: number;
  duration_s?: number;
  /** Node-RED user directory; when set, the flow editor runs under /flows (admin token only). */
  nodeRedDir?: string;
  /** Devices to link (gridloop run); without them the demo starts its own emulated battery board. */
  devices?: DeviceLinkConfig[];
  /** Controllers hosted off the loop's step path (run config `controllers`, docs/bench.md). */
  controllers?: ControllerSpec[];
  /** Scenario file (gridloop run): its grid, initial state, events and assertions drive the run. */
  scenario?: string;
  /** Where `scenario start <name>` commands find `<name>.yaml`. @default ./scenarios */
  scenariosDir?: string;
  /** Command named in error messages. @default 'start' */
  command?: string;
  /**
   * Pacer tuning, real-time scheduling and live detectors of the loop process (bench:loop,
   * gridloop run). `detectors` absent: the χ² state-estimation detector on the microgrid with the
   * most buses (demoDetectors); `{}`: none.
   */
  loop?: Pick<LoopConfig, 'pacer' | 'realtime' | 'detectors'>;
  /** Told what slow start-up work is under way (compiling the emulated board). */
  onStatus?: (message: string) => void;
}

/**
 * The demo's live detectors: χ² state estimation on the microgrid with the most buses, every
 * 100 ms, at α = 0.001 with 3-of-5 persistence: about one false alarm in 10⁸ evaluations (a
 * classroom watching for hours should not see alarms with no attack), while a 10σ bias still
 * alarms within a second.
 */
export function demoDetectors(
  grid: { buses: { microgrid?: string }[] },
  dt_s: number,
): LoopConfig['detectors'] {
  const count = new Map<string, number>();
  for (const b of grid.buses) if (b.microgrid) count.set(b.microgrid, (count.get(b.microgrid) ?? 0) + 1);
  const [island, buses] = [...count].reduce((a, b) => (b[1] > a[1] ? b : a), ['', 0]);
  if (buses < 2) return undefined;
  return { estimation: { island, every_steps: Math.max(1, Math.round(0.1 / dt_s)), alpha: 0.001 } };
}

/**
 * The file a scenario command names: `<dir>/<name>` plus `.yaml` unless the name has a YAML
 * suffix. Names are relative paths inside `dir` (sub-folders allowed, no `..`).
 */
export function scenarioFileOf(dir: string, name: string): string {
  const segments = name.split('/');
  if (isAbsolute(name) || segments.some((part) => part === '' || part === '.' || part === '..')) {
    throw new CommandInvalidError(
      `scenario name '${name}' must be a relative path inside the scenario folder (no '..', '.' or empty parts)`,
    );
  }
  const root = resolve(dir);
  const file = resolve(root, /\.ya?ml$/.test(name) ? name : `${name}.yaml`);
  if (!file.startsWith(root + sep))
    throw new CommandInvalidError(`scenario name '${name}' leaves the scenario folder`);
  return file;
}

/** Scenario names in `dir` and its sub-folders (`attacks/fdia-bias`), sorted; [] when absent. */
export function scenarioNamesIn(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((f) => /\.ya?ml$/.test(f))
      .map((f) =>
        f
          .split(sep)
          .join('/')
          .replace(/\.yaml$/, ''),
      )
      .sort();
  } catch {
    return [];
  }
}

export interface BenchStopResult {
  reason: 'requested' | 'duration' | 'overrun' | 'error';
  message?: string;
}

export interface RunningBench {
  url: string;
  boardPath: string;
  runDir: string;
  runId: string;
  /** Access tokens by role (from GRIDLOOP_*_TOKEN or generated for this run). */
  tokens: readonly AccessToken[];
  /** The flow editor's URL (without token), when started with `nodeRedDir`. */
  flowsUrl?: string;
  /** Resolves when the run ends by itself (duration reached or failure). */
  finished: Promise<'ended'>;
  /** The loop's final message: timing, link statistics and scenario assertion outcomes. */
  loopEnd: RealtimeRun['finished'];
  /**
   * Hands a message to the run's controllers (`Controller.input`), e.g. a meter's signed reading for
   * the market (`{ type: 'meter-reading', reading, signature }`); false when the loop is not running.
   */
  controllerInput(message: ControllerInput): boolean;
  stop(): Promise<BenchStopResult>;
}

/**
 * The bench's main wiring, behind `gridloop start`, `gridloop run` and `bench:loop`: the live
 * server, the devices (or the demo's emulated board), the run folder, the real-time loop process
 * and Node-RED, composed. Each part started is stopped again if a later part fails, so a failed
 * start leaves no process, port or half-written run behind.
 */
export async function startBench(options: BenchOptions): Promise<RunningBench> {
  const cleanups: (() => Promise<unknown>)[] = [];
  const cleanUp = async () => {
    for (const undo of cleanups.reverse()) await undo().catch(() => {});
  };
  try {
    let tokens: readonly AccessToken[];
    try {
      tokens = resolveAccessTokens(process.env).tokens;
    } catch (err) {
      throw usageError(`gridloop start: ${(err as Error).message}`);
    }
    let influxTarget: ReturnType<typeof influxTargetFromEnv>;
    try {
      influxTarget = influxTargetFromEnv(process.env);
    } catch (err) {
      throw usageError(`gridloop ${options.command ?? 'start'}: ${(err as Error).message}`);
    }
    let server: LiveServer;
    // Audit entries that arrive before the run folder exists are kept and written once it does.
    const pendingAudit: AuditEntry[] = [];
    let audit = (entry: AuditEntry) => {
      pendingAudit.push(entry);
    };
    const commandName = options.command ?? 'start';
    let scenarioFile: Awaited<ReturnType<typeof loadScenario>> | undefined;
    if (options.scenario) {
      try {
        scenarioFile = await loadScenario(options.scenario);
      } catch (err) {
        throw usageError(`gridloop ${commandName}: ${(err as Error).message}`);
      }
      const why = securityRefusal(scenarioFile);
      if (why) throw usageError(`gridloop ${commandName}: cannot play ${scenarioFile.name}: ${why}`);
    }
    const grid = scenarioFile?.grid ?? options.grid ?? DEFAULT_DEMO_GRID;
    let loaded: Awaited<ReturnType<typeof loadGridFile>>;
    try {
      loaded = await loadGridFile(grid);
    } catch (err) {
      throw usageError(`gridloop ${commandName}: ${(err as Error).message}`);
    }
    const topology = topologyFromGrid(loaded.grid, { hardware: loaded.config.hardware });
    const liveStates = new LiveStateBuilder(topology);
    // Command results also arrive in the loop's event batches: the timeline shows them once,
    // with the operator's name.
    const commandEvents = new Set<string>();
    const eventKey = (e: { t_s: number; kind: string; target?: string }) => `${e.t_s}|${e.kind}|${e.target}`;
    let run: RealtimeRun | undefined;
    const prosumerFeed = new ProsumerFeed();
    try {
      server = await startLiveServer({
        host: options.host,
        port: options.port,
        tokens,
        topology,
        onAudit: (entry) => audit(entry),
        scenarios: () => scenarioNamesIn(options.scenariosDir ?? 'scenarios'),
        onPreferences: async (prosumer, preferences) => {
          if (!run?.isReady) throw new CommandNotReadyError(new LoopNotReadyError().message);
          if (!prosumerFeed.prosumers().includes(prosumer))
            throw new CommandUnavailableError(`no VPP of this run has a unit of prosumer '${prosumer}'`);
          const input: PreferencesInput = { type: 'prosumer-preferences', prosumer, preferences };
          if (!run.controllerInput(input))
            throw new CommandUnavailableError('the real-time loop has stopped');
          return `preferences of ${prosumer} sent to the VPP (in force from its next decision)`;
        },
        onCommand: async (command) => {
          if (!run?.isReady) throw new CommandNotReadyError(new LoopNotReadyError().message);
          if (command.type === 'scenario') {
            if (command.action === 'start' && !command.name)
              throw new CommandInvalidError('scenario start needs a name');
            const dir = options.scenariosDir ?? 'scenarios';
            const file = command.action === 'start' ? scenarioFileOf(dir, command.name!) : undefined;
            // A refusal names the file as the client named it, never by its path on this disk.
            const event = await run.scenario(command.action, file).catch((err: Error) => {
              throw file ? new Error(err.message.split(file).join(relative(resolve(dir), file))) : err;
            });
            commandEvents.add(eventKey(event));
            return { message: event.message, event };
          }
          const twinCommand = toTwinCommand(command);
          if (!twinCommand)
            throw new CommandUnavailableError(`${command.type} commands are not carried out by this run`);
          const event = await run.command(twinCommand);
          commandEvents.add(eventKey(event));
          return { message: event.message, event };
        },
      });
    } catch (err) {
      throw runtimeError(`gridloop ${commandName}: ${(err as Error).message}`);
    }
    cleanups.push(() => server.close());

    let board: Awaited<ReturnType<typeof startEmulatedBoard>> | undefined;
    try {
      if (!options.devices) board = await startEmulatedBoard('battery', { onStatus: options.onStatus });
    } catch (err) {
      throw runtimeError(`gridloop ${commandName}: ${(err as Error).message}`);
    }
    if (board) cleanups.push(() => board.stop());
    const devices: DeviceLinkConfig[] = options.devices ?? [
      {
        id: DEMO_BOARD_DEVICE,
        path: board!.path,
        exchangeEvery: Math.max(1, Math.round(0.01 / options.dt_s)),
      },
    ];

    const scenario = scenarioFile?.name ?? 'demo';
    const recorder = await RunRecorder.open({
      runsDir: options.runsDir,
      scenario,
      sinks: influxTarget ? [new InfluxSink({ target: influxTarget })] : [],
      manifest: {
        grid,
        scenario,
        seed: options.seed,
        dt_s: options.dt_s,
        mode: 'realtime',
        // How the loop was built, so `gridloop replay` can rebuild the same twin.
        loop: {
          twin: { grid, seed: options.seed, dt_s: options.dt_s, scenario: options.scenario },
          devices: devices.map((d) => ({ ...d })),
        },
        devices: devices.map((d) => ({
          id: d.id,
          transport: d.driver === 'simulated' ? 'simulated' : 'serial',
          path: d.path ?? '',
          firmware: board ? 'emulated battery board' : (d.driver ?? 'firmware'),
        })),
      },
    });
    cleanups.push(() => recorder.close({ status: 'aborted' }));
    const runId = basename(recorder.dir);
    audit = (entry) =>
      recorder.event({
        kind: 'audit',
        message: `${entry.actor.role} ${entry.action}: ${entry.result}${entry.reason ? ` (${entry.reason})` : ''}`,
        source: 'server',
        data: { ...entry },
      });
    for (const entry of pendingAudit.splice(0)) audit(entry);

    run = new RealtimeRun({
      twin: { grid, scenario: options.scenario, seed: options.seed, dt_s: options.dt_s },
      devices,
      snapshotEvery: Math.max(1, Math.round(1 / (options.record_hz * options.dt_s))),
      overrunPolicy: 'continue',
      duration_s: options.duration_s,
      detectors: demoDetectors(loaded.grid, options.dt_s),
      ...(options.controllers?.length ? { controllers: options.controllers, runDir: recorder.dir } : {}),
      ...options.loop,
    });
    const loop = run;
    cleanups.push(() => loop.stop());

    let busIds: string[] = [];
    const busIsland = new Map<string, string>();
    const deviceMicrogrid = deviceMicrogrids(loaded.grid, loaded.config.hardware);
    const planned = plannedIslands(loaded.grid);
    // Bus voltages change slowly and are many: record them at no more than 10 Hz.
    const busEvery = Math.max(1, Math.round(options.record_hz / 10));
    let snapshotCount = 0;
    let latest: Snapshot | undefined;
    const recordPoint: PointSink = (m, tags, fields, t) => recorder.point(m, tags, fields, t);
    let scenarioNow: ScenarioStatus | undefined;
    let prosumersSentAt = 0;
    let lastMarket: MarketTelemetry | undefined;
    const marketPoints = new MarketPointWriter(
      loaded.grid.microgrids.map((m) => m.id),
      new Map(loaded.grid.fids.map((f) => [f.id, f.rating_mva])),
    );
    run.on('message', (message: LoopToHost) => {
      if (message.type === 'scenario-status') {
        scenarioNow = message.status;
        recorder.event({
          t_s: latest?.t_s ?? 0,
          kind: 'scenario-status',
          message: `${message.status.scenario} ${message.status.state} at ${message.status.elapsed_s.toFixed(3)} s`,
          source: 'bench',
          data: { ...message.status },
        });
        status('running');
        return;
      }
      if (message.type !== 'batch') return;
      for (const snapshot of message.snapshots) {
        if (snapshot.busIds) busIds = snapshot.busIds;
        liveStates.absorb(snapshot);
        updateBusIslands(snapshot.islands, snapshot.islandBuses, busIsland);
        snapshotToPoints(snapshot, busIds, recorder.start_ns, recordPoint, {
          includeBuses: snapshotCount++ % busEvery === 0,
          busIsland,
          deviceMicrogrid,
          plannedIslands: planned,
        });
        latest = snapshot;
      }
      if (latest) linkStatsToPoints(message.links, recorder.timeOf(latest.t_s), recordPoint);
      if (message.detectorSamples) liveStates.absorbDetectorSamples(message.detectorSamples);
      for (const s of message.detectorSamples ?? []) {
        if (!Number.isFinite(s.statistic)) continue;
        recordPoint(
          'detector',
          { detector: s.detector },
          { statistic: s.statistic, threshold: s.threshold, alarm: s.alarm },
          recorder.timeOf(s.t_s),
        );
      }
      for (const event of message.events) {
        recorder.event({ ...event, source: event.kind === 'alarm' ? 'detector' : 'twin' });
        if (!commandEvents.delete(eventKey(event))) server.publishEvent(liveEventOf(event));
      }
      for (const frame of message.frames) {
        recorder.frame(frame.direction, frame.deviceId, frame.bytes, BigInt(frame.time_ns));
      }
      if (message.replay) recorder.replay(message.replay);
      let vppDecided = false;
      for (const { telemetry } of message.controllerTelemetry ?? []) {
        if (isMarketTelemetry(telemetry)) {
          lastMarket = telemetry;
          marketPoints.absorb(telemetry, recordPoint, (t_s) => recorder.timeOf(t_s));
          server.publishMarket(marketLiveViewOf(telemetry));
          vppDecided = true;
          continue;
        }
        if (!isVppTelemetry(telemetry)) continue;
        vppTelemetryToPoints(telemetry, recorder.timeOf(telemetry.t_s), recordPoint);
        prosumerFeed.absorb(telemetry);
        server.publishVpp(vppLiveViewOf(telemetry));
        vppDecided = true;
      }
      if (latest) {
        server.publishState(liveStates.build(latest));
      }
      // Prosumers' meters follow the live state, at most twice a second (and at each decision).
      const now = performance.now();
      if (vppDecided || now - prosumersSentAt >= 500) {
        prosumersSentAt = now;
        const prosumers = new Set([...prosumerFeed.prosumers(), ...marketProsumers(lastMarket)]);
        for (const id of prosumers) {
          const view = withMarket(
            prosumerFeed.viewOf(id, latest?.devices, latest?.t_s),
            lastMarket,
            id,
            latest?.devices,
            latest?.t_s,
          );
          if (view) server.publishProsumer(view);
        }
      }
    });

    const status = (state: 'starting' | 'running' | 'stopped' | 'failed') => {
      const active = scenarioNow && (scenarioNow.state === 'playing' || scenarioNow.state === 'paused');
      server.publishStatus({
        runId,
        state: state === 'running' && scenarioNow?.state === 'paused' ? 'paused' : state,
        t_s: latest?.t_s ?? 0,
        dt_s: options.dt_s,
        runDir: recorder.dir,
        ...(active ? { scenario: scenarioNow!.scenario } : {}),
      });
    };
    status('starting');
    try {
      await run.ready;
    } catch (err) {
      throw runtimeError(
        `gridloop ${commandName}: the real-time loop failed to start: ${(err as Error).message}`,
      );
    }
    status('running');

    let flows: EmbeddedNodeRed | undefined;
    if (options.nodeRedDir) {
      try {
        flows = await embedNodeRed({ live: server, tokens, userDir: options.nodeRedDir });
      } catch (err) {
        throw runtimeError(`gridloop start: Node-RED failed to start: ${(err as Error).message}`);
      }
      const embedded = flows;
      cleanups.push(() => embedded.close());
    }

    let stopped: Promise<BenchStopResult> | undefined;
    const stop = () => {
      stopped ??= (async (): Promise<BenchStopResult> => {
        // Flows first, so no dispatcher commands a twin that is shutting down.
        await flows?.close();
        await run.stop();
        const end = await run.finished;
        const result: BenchStopResult =
          end.type === 'error' ? { reason: 'error', message: end.message } : { reason: end.reason };
        status(end.type === 'error' ? 'failed' : 'stopped');
        // A scenario run that stopped before its end has no verdict on its assertions: it did not pass.
        const unjudged = end.type === 'stopped' && options.scenario !== undefined && !end.assertions;
        await recorder.close({
          status: end.type === 'error' ? 'failed' : unjudged ? 'aborted' : 'complete',
          reason: unjudged ? `${result.reason}: stopped before the scenario ended` : result.reason,
          ...(end.type === 'stopped' && end.assertions
            ? { assertions: assertionResults(end.assertions, end.steps * options.dt_s) }
            : {}),
        });
        await board?.stop();
        await server.close();
        return result;
      })();
      return stopped;
    };
    return {
      url: server.url,
      boardPath: board?.path ?? '',
      runDir: recorder.dir,
      runId,
      tokens,
      flowsUrl: flows?.url,
      finished: run.finished.then(() => 'ended' as const),
      loopEnd: run.finished,
      controllerInput: (message) => run.controllerInput(message),
      stop,
    };
  } catch (err) {
    await cleanUp();
    throw err;
  }
}
