import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REGISTERED_CONTROLLERS } from '../runtime/controllers/spec.ts';
import { loadRunConfig, parseRunConfig } from './run-config.ts';

const dir = mkdtempSync(join(tmpdir(), 'gridloop-run-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(
  join(dir, 'my-ems.ts'),
  'export default () => ({ id: "x", period_s: 1, claims: [], decide() {} });\n',
);

const file = join(dir, 'run.yaml');
const devices = 'devices:\n  - { id: bess-hw, driver: simulated }\n';

describe('run config: controllers', () => {
  it('reads controllers declared as data, resolving modules against the file and by name', async () => {
    writeFileSync(
      file,
      `${devices}controllers:\n  - module: ./my-ems.ts\n    id: ems\n    options: { limit_mw: 1.2 }\n  - { module: setpoint-schedule, id: sched, timeout_s: 5 }\n`,
    );
    const config = await loadRunConfig(file);
    expect(config.devices).toEqual([{ id: 'bess-hw', driver: 'simulated' }]);
    expect(config.controllers).toEqual([
      { module: join(dir, 'my-ems.ts'), id: 'ems', options: { limit_mw: 1.2 } },
      { module: REGISTERED_CONTROLLERS['setpoint-schedule'], id: 'sched', timeout_s: 5 },
    ]);
  });

  it('a file without controllers has none', () => {
    expect(parseRunConfig(devices, file).controllers).toEqual([]);
  });

  it('names the file, line and JSON path of a bad declaration', () => {
    const bad = (controllers: string) => () => parseRunConfig(`${devices}controllers:\n${controllers}`, file);
    expect(bad('  - { module: ./nowhere.ts, id: a }\n')).toThrow(
      `${file}:4 (at /controllers/0/module): './nowhere.ts' is neither a registered controller (setpoint-schedule, vpp, market) nor an existing file`,
    );
    expect(bad('  - { module: ./my-ems.ts, id: a }\n  - { module: ./my-ems.ts, id: a }\n')).toThrow(
      `${file}:5 (at /controllers/1/id): controller 'a' is declared twice`,
    );
    expect(bad('  - { module: ./my-ems.ts }\n')).toThrow(
      `${file}:4 (at /controllers/0): must have required property 'id'`,
    );
    expect(bad('  - { module: ./my-ems.ts, id: a, period: 3 }\n')).toThrow(
      `${file}:4 (at /controllers/0/period): unknown key 'period'`,
    );
    expect(bad('  - { module: ./my-ems.ts, id: a, timeout_s: 0 }\n')).toThrow(
      /:4 \(at \/controllers\/0\/timeout_s\): must be > 0/,
    );
    expect(bad('  - { module: ./my-ems.ts, id: "a b" }\n')).toThrow(
      /:4 \(at \/controllers\/0\/id\): must match pattern/,
    );
  });
});
