import { describe, expect, it } from 'vitest';
import { influxTargetFromEnv } from './influx-env.ts';

describe('influxTargetFromEnv', () => {
  it('is off without GRIDLOOP_INFLUX_URL', () => {
    expect(influxTargetFromEnv({})).toBeUndefined();
    expect(influxTargetFromEnv({ GRIDLOOP_INFLUX_URL: ' ' })).toBeUndefined();
  });

  it('reads a v2 target by default and a v1 target on request', () => {
    expect(
      influxTargetFromEnv({
        GRIDLOOP_INFLUX_URL: 'http://127.0.0.1:8086',
        GRIDLOOP_INFLUX_ORG: 'lab',
        GRIDLOOP_INFLUX_BUCKET: 'gridloop',
        GRIDLOOP_INFLUX_TOKEN: 't0k',
      }),
    ).toEqual({ api: 'v2', url: 'http://127.0.0.1:8086', org: 'lab', bucket: 'gridloop', token: 't0k' });
    expect(
      influxTargetFromEnv({
        GRIDLOOP_INFLUX_URL: 'http://127.0.0.1:8086',
        GRIDLOOP_INFLUX_API: 'v1',
        GRIDLOOP_INFLUX_DB: 'g',
      }),
    ).toEqual({ api: 'v1', url: 'http://127.0.0.1:8086', database: 'g' });
  });

  it('names the variable that is wrong or missing', () => {
    expect(() => influxTargetFromEnv({ GRIDLOOP_INFLUX_URL: 'not a url' })).toThrow(
      /GRIDLOOP_INFLUX_URL is not a URL/,
    );
    expect(() => influxTargetFromEnv({ GRIDLOOP_INFLUX_URL: 'ftp://x' })).toThrow(/must be http/);
    expect(() => influxTargetFromEnv({ GRIDLOOP_INFLUX_URL: 'http://x', GRIDLOOP_INFLUX_ORG: 'o' })).toThrow(
      /GRIDLOOP_INFLUX_BUCKET must be set/,
    );
    expect(() => influxTargetFromEnv({ GRIDLOOP_INFLUX_URL: 'http://x', GRIDLOOP_INFLUX_API: 'v3' })).toThrow(
      /must be v1 or v2/,
    );
  });
});
