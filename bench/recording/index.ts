/**
 * Run recording. Every run gets its own folder `runs/<yyyymmdd-hhmmss-mmm>-<scenario>/`:
 *
 *   manifest.json    versions, git commit, grid, scenario, seed, devices, start/end, status, counts
 *   points.lp.gz     time series, InfluxDB line protocol (ns), gzip members appended per flush
 *   frames.pcap.gz   every raw device frame with its capture time (pcap, ns, LINKTYPE_USER0)
 *   events.jsonl     events and annotations, operator commands included, one JSON object a line
 *
 * API (main thread; all record methods are synchronous, cheap and never wait on I/O):
 *
 *   const rec = await RunRecorder.open({ runsDir, scenario, manifest: { grid, seed, dt_s, devices } });
 *   rec.point('island', { island: 'mg1' }, { f_hz: 50.01, energised: true }, rec.timeOf(t_s));
 *   rec.event({ kind: 'breaker', message: 'CB3 opened', target: 'CB3', source: 'operator', t_s });
 *   rec.frame('rx', 'bess-hw', bytes, time_ns);
 *   rec.assertion({ name: 'f within 49.5..50.5', passed: true, value: 49.93 });
 *   await rec.close({ status: 'complete' });   // or 'failed' / 'aborted', with a reason
 *
 * close() judges the run once (verdict.ts: complete and every assertion passed) and writes the
 * verdict to the manifest, the `verdict` point and the run-end event.
 *
 * `point()` takes the measurements, tags and fields of the published schema (schema.ts, the one
 * place they are written; docs/influx-schema.md); `line()` any point, for tests of the format.
 * The `run` tag is added to every point. Numbers are written as floats, bigints as integers
 * (`1n` → `1i`), booleans and strings as such (see docs/influx-schema.md for the schema).
 * Queued data is compressed and appended at least every `flushInterval_ms` (250 ms by default,
 * ≤ 1 s), so a process killed with SIGKILL leaves files readable up to the last flush, and its
 * manifest still says `status: "incomplete"`. Queue depth is written as the `recorder` measurement
 * once a second and summarised in the manifest.
 *
 * Reading back (tests, report, replay): readRun(dir), readRunPoints(dir), readRunEvents(dir),
 * readRunFrames(dir), readManifest(dir).
 */
export {
  type CapturedFrameRecord,
  type FrameDirection,
  parsePcap,
  pcapFileHeader,
  pcapRecord,
} from './frame-capture.ts';
export { GzipAppender } from './gzip-appender.ts';
export {
  InfluxSink,
  type InfluxSinkOptions,
  type InfluxV1Target,
  type InfluxV2Target,
} from './influx-sink.ts';
export {
  encodeLine,
  type Fields,
  type FieldValue,
  LineProtocolError,
  type Point,
  parseLine,
  type Tags,
} from './line-protocol.ts';
export {
  type AssertionResult,
  type ManifestDevice,
  type ManifestInput,
  RunFolderError,
  type RunManifest,
  type RunStatus,
  readManifest,
} from './manifest.ts';
export {
  gunzipTolerant,
  type RecordedEvent,
  type RecordedRun,
  readRun,
  readRunEvents,
  readRunFrames,
  readRunPoints,
} from './read-run.ts';
export {
  REPLAY_BATCH_STEPS,
  REPLAY_FILE,
  type ReplayControl,
  ReplayLogWriter,
  type ReplayRecord,
  type ReplayResult,
  readReplayLog,
  replayRecords,
  TwinStateHasher,
} from './replay-log.ts';
export {
  type LineSink,
  type RecorderEvent,
  type RecorderStats,
  type RunOutcome,
  RunRecorder,
  type RunRecorderOptions,
} from './run-recorder.ts';
export {
  type FieldType,
  type Measurement,
  type MeasurementSchema,
  measurementSchema,
  type PointFields,
  type PointSink,
  type PointTags,
  RECORDED_SCHEMA,
} from './schema.ts';
export { assertionResults, judgeRun, type RunVerdict } from './verdict.ts';
