/**
 * InfluxDB settings from the environment, for every command that records a run. Runs always go to
 * local files; with GRIDLOOP_INFLUX_URL set they also go to InfluxDB (docs/recording.md).
 *
 *   GRIDLOOP_INFLUX_URL     e.g. http://127.0.0.1:8086 (unset: no InfluxDB)
 *   GRIDLOOP_INFLUX_API     v2 (default: InfluxDB 2.x, 3.x, Cloud, 1.8+ compatibility) or v1 (1.x /write)
 *   GRIDLOOP_INFLUX_ORG     v2 organisation
 *   GRIDLOOP_INFLUX_BUCKET  v2 bucket
 *   GRIDLOOP_INFLUX_TOKEN   v2 API token (1.8 compatibility: username:password)
 *   GRIDLOOP_INFLUX_DB      v1 database
 *   GRIDLOOP_INFLUX_USERNAME / GRIDLOOP_INFLUX_PASSWORD   v1 credentials, if any
 */
import type { InfluxV1Target, InfluxV2Target } from '../recording/index.ts';

export class InfluxConfigError extends TypeError {
  constructor(message: string) {
    super(message);
    this.name = 'InfluxConfigError';
  }
}

/** The target named by the environment, undefined when GRIDLOOP_INFLUX_URL is unset or empty. */
export function influxTargetFromEnv(
  env: Readonly<Record<string, string | undefined>>,
): InfluxV1Target | InfluxV2Target | undefined {
  const url = env.GRIDLOOP_INFLUX_URL?.trim();
  if (!url) return undefined;
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InfluxConfigError(`GRIDLOOP_INFLUX_URL is not a URL: '${url}'`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new InfluxConfigError(`GRIDLOOP_INFLUX_URL must be http(s), got '${parsed.protocol}'`);
  }
  const api = (env.GRIDLOOP_INFLUX_API ?? 'v2').trim();
  const need = (name: string): string => {
    const value = env[name]?.trim();
    if (!value) throw new InfluxConfigError(`${name} must be set when GRIDLOOP_INFLUX_URL is (API ${api})`);
    return value;
  };
  if (api === 'v1') {
    return {
      api: 'v1',
      url,
      database: need('GRIDLOOP_INFLUX_DB'),
      ...(env.GRIDLOOP_INFLUX_USERNAME ? { username: env.GRIDLOOP_INFLUX_USERNAME } : {}),
      ...(env.GRIDLOOP_INFLUX_PASSWORD ? { password: env.GRIDLOOP_INFLUX_PASSWORD } : {}),
    };
  }
  if (api === 'v2') {
    return {
      api: 'v2',
      url,
      org: need('GRIDLOOP_INFLUX_ORG'),
      bucket: need('GRIDLOOP_INFLUX_BUCKET'),
      ...(env.GRIDLOOP_INFLUX_TOKEN ? { token: env.GRIDLOOP_INFLUX_TOKEN } : {}),
    };
  }
  throw new InfluxConfigError(`GRIDLOOP_INFLUX_API must be v1 or v2, got '${api}'`);
}
