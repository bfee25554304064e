import { join } from 'node:path';
import { type LoopbackServer, startLoopbackServer } from './loopback-server.ts';

/** One series from VictoriaMetrics' JSON-lines export. Timestamps are in milliseconds. */
export interface ExportedSeries {
  metric: Record<string, string>;
  values: number[];
  timestamps: number[];
}

export interface VictoriaMetricsServer extends LoopbackServer {
  /** Makes recently written samples searchable (GET /internal/force_flush). */
  forceFlush(): Promise<void>;
  /** Every series matching the selector, e.g. `{__name__=~"island_.*"}`, over all time. */
  exportSeries(selector: string): Promise<ExportedSeries[]>;
}

/**
 * Starts Debian's `victoria-metrics` (single-node) on 127.0.0.1 with its storage in a temp
 * directory. It accepts InfluxDB line protocol on `/write` and `/api/v2/write` and stores
 * `measurement,tags field=value` as the series `measurement_field{tags}` at millisecond resolution.
 */
export async function startVictoriaMetrics(): Promise<VictoriaMetricsServer> {
  const server = await startLoopbackServer({
    name: 'victoria-metrics',
    command: 'victoria-metrics',
    readyPath: '/health',
    args: (dir, port) => [
      `-storageDataPath=${join(dir, 'data')}`,
      `-httpListenAddr=127.0.0.1:${port}`,
      '-retentionPeriod=100y',
      '-loggerLevel=ERROR',
      '-search.disableCache',
      // Run timestamps can be far from "now" (replays of old records).
      '-search.maxStalenessInterval=1h',
    ],
  });
  return Object.assign(server, {
    async forceFlush() {
      const response = await fetch(`${server.url}/internal/force_flush`, {
        signal: AbortSignal.timeout(10_000),
      });
      await response.arrayBuffer();
      if (!response.ok) throw new Error(`victoria-metrics force_flush: HTTP ${response.status}`);
    },
    async exportSeries(selector: string) {
      const params = new URLSearchParams({ 'match[]': selector, start: '0' });
      const response = await fetch(`${server.url}/api/v1/export?${params}`, {
        signal: AbortSignal.timeout(30_000),
      });
      const text = await response.text();
      if (!response.ok)
        throw new Error(`victoria-metrics export '${selector}': HTTP ${response.status}: ${text}`);
      return text
        .split('\n')
        .filter((line) => line.trim() !== '')
        .map((line) => JSON.parse(line) as ExportedSeries);
    },
  });
}
