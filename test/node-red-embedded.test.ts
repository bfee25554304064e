/**
 * Embedded mode (`gridloop start --node-red`): Node-RED inside the bench, under /flows on the
 * bench's own HTTP server, open to the admin token only, with the gridloop nodes preinstalled.
 * Runs in its own file: Node-RED allows one runtime per process.
 */

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { io as connect } from 'socket.io-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocket } from 'ws';
import type { LiveState } from '../bench/server/api.ts';
import { type RunningBench, startBench } from '../bench/start-bench.ts';
import { exampleFlow, setTabEnv, until } from './node-red-helpers.ts';
import { budget } from './support/machine-speed.ts';
import { launchChromium, watchErrors } from './web-browser.ts';

/** The parts of the editor's global `RED` used here. */
interface EditorRED {
  nodes: { getType(type: string): unknown; node(id: string): unknown };
  view: { importNodes(nodes: Record<string, unknown>[]): void };
  editor: { edit(node: unknown): void };
}

const repoRoot = join(import.meta.dirname, '..');

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

function http(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: options.method ?? 'GET', headers: options.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString('utf8'),
        }),
      );
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Tries a WebSocket upgrade; resolves with the HTTP status the server answered (101 = accepted). */
function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, {
      headers: {
        connection: 'Upgrade',
        upgrade: 'websocket',
        'sec-websocket-version': '13',
        'sec-websocket-key': randomBytes(16).toString('base64'),
        ...headers,
      },
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve(res.statusCode ?? 0);
    });
    req.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('gridloop start --node-red: the flow editor inside the bench', () => {
  const dirs: string[] = [];
  let demo: RunningBench;
  let admin: string;
  let operator: string;
  let tcpBefore: number;

  const tcpHandles = () =>
    process.getActiveResourcesInfo().filter((r) => r === 'TCPSocketWrap' || r === 'TCPServerWrap').length;

  beforeAll(async () => {
    tcpBefore = tcpHandles();
    const runsDir = mkdtempSync(join(tmpdir(), 'gridloop-nre-runs-'));
    const nodeRedDir = mkdtempSync(join(tmpdir(), 'gridloop-nre-user-'));
    dirs.push(runsDir, nodeRedDir);
    demo = await startBench({
      host: '127.0.0.1',
      port: 0,
      runsDir,
      seed: 1,
      dt_s: 0.002,
      record_hz: 20,
      nodeRedDir,
    });
    admin = demo.tokens.find((t) => t.role === 'admin')!.token;
    operator = demo.tokens.find((t) => t.role === 'operator')!.token;
  });

  afterAll(async () => {
    await demo?.stop();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('serves the editor under /flows on the bench port', () => {
    expect(demo.flowsUrl).toBe(`${demo.url}flows/`);
  });

  it('refuses requests without the admin token, and with a non-admin one', async () => {
    expect((await http(demo.flowsUrl!)).status).toBe(401);
    expect((await http(`${demo.flowsUrl}nodes`)).status).toBe(401);
    expect((await http(`${demo.flowsUrl}?token=${operator}`)).status).toBe(401);
    expect((await http(demo.flowsUrl!, { headers: { authorization: `Bearer ${operator}` } })).status).toBe(
      401,
    );
    expect(
      (await http(demo.flowsUrl!, { headers: { cookie: 'gridloop_flows=made-up-session' } })).status,
    ).toBe(401);
    // The live page and the socket.io API next to it are untouched.
    expect((await http(demo.url)).status).toBe(200);
  });

  it('opens the editor for the admin token through a session cookie, and drops the token from the URL', async () => {
    const login = await http(`${demo.flowsUrl}?token=${admin}`);
    expect(login.status).toBe(303);
    expect(login.headers.location).toBe('/flows/');
    const setCookie = String(login.headers['set-cookie']);
    expect(setCookie).toMatch(/^gridloop_flows=[\w-]+; HttpOnly; SameSite=Strict; Path=\/flows$/);
    const cookie = setCookie.split(';')[0];
    const editor = await http(demo.flowsUrl!, { headers: { cookie } });
    expect(editor.status).toBe(200);
    expect(editor.body).toMatch(/Node-RED/);
    // The editor's WebSocket (comms) needs the same session.
    const comms = `${demo.flowsUrl}comms`;
    expect(await upgradeStatus(comms)).toBe(401);
    expect(await upgradeStatus(comms, { cookie })).toBe(101);
    // Without the trailing slash the editor's relative links would break: redirected.
    const bare = await http(`${demo.url}flows`, { headers: { cookie } });
    expect(bare.status).toBe(301);
    expect(bare.headers.location).toBe('/flows/');
  });

  it('has the gridloop nodes preinstalled, and a flow deployed through the admin API commands the twin', {
    timeout: budget(90_000),
  }, async () => {
    const auth = { authorization: `Bearer ${admin}` };
    const nodes = JSON.parse(
      (await http(`${demo.flowsUrl}nodes`, { headers: { ...auth, accept: 'application/json' } })).body,
    ) as {
      module: string;
      types: string[];
    }[];
    expect(
      nodes
        .filter((n) => n.module === '@gridloop/node-red-gridloop')
        .flatMap((n) => n.types)
        .sort(),
    ).toEqual([
      'gridloop-command',
      'gridloop-event',
      'gridloop-scenario',
      'gridloop-server',
      'gridloop-state',
    ]);

    const flow = exampleFlow('peak-shaving', demo.url, operator);
    setTabEnv(flow, 'PEAK_LIMIT_MW', '-1');
    const deployed = await http(`${demo.flowsUrl}flows`, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json', 'node-red-deployment-type': 'full' },
      body: JSON.stringify(flow),
    });
    expect(deployed.status).toBe(204);

    // Watch the twin as a viewer: the battery goes to the flow's set-point (its 0.5 MW rating).
    const viewer = connect(demo.url, {
      auth: { token: demo.tokens.find((t) => t.role === 'viewer')!.token },
      transports: ['websocket'],
      forceNew: true,
    });
    let latest: LiveState | undefined;
    viewer.on('state', (state: LiveState) => {
      latest = state;
    });
    try {
      await until(
        'bess-25 discharging at 0.5 MW',
        () => latest && Math.abs(latest.devices['bess-25'].p_mw - 0.5) < 0.02,
        20_000,
      );
    } finally {
      viewer.disconnect();
    }
  });

  it('the editor shows the gridloop nodes with their help, and its forms flag invalid values', {
    timeout: budget(90_000),
  }, async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage();
      const errors = watchErrors(page);
      const offsite: string[] = [];
      // The bench must work offline: any request off loopback is a failure (and is not sent).
      await page.route('**/*', (route) => {
        const url = new URL(route.request().url());
        if (url.hostname === '127.0.0.1') return route.continue();
        offsite.push(url.href);
        return route.abort();
      });
      await page.goto(`${demo.flowsUrl}?token=${admin}`);
      expect(page.url()).toBe(demo.flowsUrl);
      await page.waitForFunction(
        () => (window as unknown as { RED?: EditorRED }).RED?.nodes?.getType?.('gridloop-state'),
        null,
        {
          timeout: budget(30_000),
        },
      );
      const help = await page.evaluate(() =>
        ['gridloop-server', 'gridloop-state', 'gridloop-event', 'gridloop-command', 'gridloop-scenario'].map(
          (type) => document.querySelector(`script[data-help-name="${type}"]`)?.textContent?.length ?? 0,
        ),
      );
      for (const length of help) expect(length).toBeGreaterThan(300);
      // A new server node points at this bench.
      const defaultUrl = await page.evaluate(
        () =>
          (
            (window as unknown as { RED: EditorRED }).RED.nodes.getType('gridloop-server') as {
              defaults: { url: { value: string } };
            }
          ).defaults.url.value,
      );
      expect(defaultUrl).toBe(demo.url.replace(/\/$/, ''));

      await page.evaluate(() => {
        const RED = (window as unknown as { RED: EditorRED }).RED;
        RED.view.importNodes([
          {
            id: 'form-test',
            type: 'gridloop-state',
            x: 200,
            y: 100,
            rate: 1,
            filter: 'all',
            target: '',
            server: '',
          },
        ]);
        RED.editor.edit(RED.nodes.node('form-test'));
      });
      await page.waitForSelector('#node-input-rate', { state: 'visible' });
      const classOf = (selector: string) =>
        page.evaluate((s) => document.querySelector(s)!.className, selector);
      const set = async (selector: string, value: string) => {
        await page.fill(selector, value);
        await page.dispatchEvent(selector, 'change');
      };
      // The id field only shows for island, bus or device.
      expect(await page.isVisible('#node-input-target')).toBe(false);
      await set('#node-input-rate', '99');
      await page.selectOption('#node-input-filter', 'device');
      await set('#node-input-target', '');
      expect(await page.isVisible('#node-input-target')).toBe(true);
      expect(await classOf('#node-input-rate')).toContain('input-error');
      expect(await classOf('#node-input-target')).toContain('input-error');
      await set('#node-input-rate', '2');
      await set('#node-input-target', 'bess-25');
      expect(await classOf('#node-input-rate')).not.toContain('input-error');
      expect(await classOf('#node-input-target')).not.toContain('input-error');
      expect(offsite).toEqual([]);
      expect(errors).toEqual([]);
    } finally {
      await browser.close();
    }
  });

  it('stopping the bench stops Node-RED and leaves no connection or server behind', async () => {
    await demo.stop();
    await until('TCP handles back to where they were', () => tcpHandles() <= tcpBefore, 5000);
  });
});

describe('gridloop start --node-red (the command)', () => {
  const cli = (args: string[], cwd: string) =>
    spawn(process.execPath, [join(repoRoot, 'bin', 'gridloop.mjs'), 'start', ...args], {
      cwd,
      env: { ...process.env, GRIDLOOP_ADMIN_TOKEN: 'admin-token-for-cli-test' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });

  it('prints the editor link with the admin token, and the link opens the editor', {
    timeout: budget(90_000),
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gridloop-nre-cli-'));
    const child = cli(
      [
        '--port',
        '0',
        '--node-red',
        '--runs-dir',
        join(dir, 'runs'),
        '--node-red-dir',
        join(dir, 'nr'),
        '--grid',
        join(repoRoot, 'grids/demo-33bw-microgrids.yaml'),
      ],
      repoRoot,
    );
    let out = '';
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on('data', (c: Buffer) => {
      out += c.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    try {
      const link = await until(
        'the editor link',
        () => /flow editor \(admin\): (\S+)/.exec(out)?.[1],
        30_000,
      );
      expect(link).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/flows\/\?token=admin-token-for-cli-test$/);
      expect((await http(link)).status).toBe(303);
    } finally {
      child.kill('SIGINT');
      expect(await exited).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('opens on the classroom flow, deployed and connected to this bench with no manual step, and Node-RED warns of no credential key', {
    timeout: budget(300_000),
  }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gridloop-nre-first-'));
    const nodeRedDir = join(dir, 'nr');
    const start = () => {
      const child = cli(
        ['--port', '0', '--node-red', '--runs-dir', join(dir, 'runs'), '--node-red-dir', nodeRedDir],
        repoRoot,
      );
      const output = { text: '' };
      child.stdout.on('data', (c: Buffer) => {
        output.text += c.toString();
      });
      child.stderr.on('data', (c: Buffer) => {
        output.text += c.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      return { child, output, exited };
    };
    const auth = { authorization: 'Bearer admin-token-for-cli-test' };
    let bench = start();
    try {
      const base = await until(
        'the editor link',
        () => /flow editor \(admin\): (\S+)\?token=/.exec(bench.output.text)?.[1],
        60_000,
      );
      const flows = JSON.parse((await http(`${base}flows`, { headers: auth })).body) as {
        id: string;
        type: string;
        url?: string;
        z?: string;
      }[];
      // The classroom tab, not an empty "Flow 1".
      expect(flows.filter((n) => n.type === 'tab').map((n) => n.id)).toEqual(['classroom-tab']);
      const server = flows.find((n) => n.type === 'gridloop-server')!;
      expect(server.url).toBe('');

      // What the editor shows, over its own WebSocket: the classroom nodes connected as operator to
      // this bench, and the narration of the state it streams.
      const wsUrl = `${base.replace(/^http/, 'ws')}comms`;
      const comms = new WebSocket(wsUrl, { headers: auth });
      const statuses = new Map<string, string>();
      const debug: string[] = [];
      comms.on('message', (data: Buffer) => {
        for (const m of JSON.parse(data.toString()) as {
          topic: string;
          data: { text?: string; msg?: string };
        }[]) {
          if (m.topic.startsWith('status/')) statuses.set(m.topic.slice(7), m.data.text ?? '');
          if (m.topic === 'debug' && typeof m.data.msg === 'string') debug.push(m.data.msg);
        }
      });
      await new Promise<void>((resolve, reject) => comms.once('open', resolve).once('error', reject));
      comms.send(JSON.stringify({ subscribe: 'status/#' }));
      comms.send(JSON.stringify({ subscribe: 'debug' }));
      try {
        await until('the classroom scenario node connected as operator', () =>
          statuses.get('cl-scenario')?.startsWith('connected as operator'),
        );
        // Press the classroom button (the inject node's admin endpoint, as the editor does): the
        // bench plays the scenario, and the flow narrates its events and the island's state.
        expect((await http(`${base}inject/cl-button`, { method: 'POST', headers: auth })).status).toBe(200);
        await until(
          "MG1's islanded frequency narrated, from the state this bench streams",
          () => debug.some((line) => /MG1 frequency .* Hz \(islanded\)/.test(line)),
          60_000,
        ).catch((err: Error) => {
          throw new Error(`${err.message}; narrated: ${debug.slice(-8).join(' | ')}`);
        });
        statuses.clear();
        // A token typed into a server node is stored encrypted with the bench's key, not Node-RED's
        // system-generated one (whose warning would follow at every start).
        const withToken = [
          ...flows,
          {
            id: 'typed-server',
            type: 'gridloop-server',
            url: '',
            credentials: { token: 'a-token-typed-by-hand' },
          },
        ];
        const deployed = await http(`${base}flows`, {
          method: 'POST',
          headers: { ...auth, 'content-type': 'application/json', 'node-red-deployment-type': 'full' },
          body: JSON.stringify(withToken),
        });
        expect(deployed.status).toBe(204);
        // Ctrl-C while Node-RED restarts the flows of a deploy is not what this test is about:
        // wait for them to be up again.
        await until('the flows restarted and connected after the deploy', () =>
          statuses.get('cl-scenario')?.startsWith('connected as operator'),
        );
      } finally {
        comms.close();
      }
      expect(statSync(join(nodeRedDir, 'credential-secret')).mode & 0o077).toBe(0);
      bench.child.kill('SIGINT');
      expect(await bench.exited).toBe(0);
      const firstOutput = bench.output.text;

      // The next start keeps the user's flows (not the classroom again) and still warns of nothing.
      bench = start();
      const again = await until(
        'the editor link again',
        () => /flow editor \(admin\): (\S+)\?token=/.exec(bench.output.text)?.[1],
        60_000,
      );
      const kept = JSON.parse((await http(`${again}flows`, { headers: auth })).body) as { id: string }[];
      expect(kept.some((n) => n.id === 'typed-server')).toBe(true);
      bench.child.kill('SIGINT');
      expect(await bench.exited).toBe(0);
      expect(firstOutput + bench.output.text).not.toMatch(/credentialSecret|system-generated key/);
    } finally {
      bench.child.kill('SIGINT');
      await bench.exited;
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses --node-red-dir without --node-red (exit 2)', async () => {
    const child = cli(['--node-red-dir', 'x'], repoRoot);
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
    expect(code).toBe(2);
    expect(err).toMatch(/--node-red-dir needs --node-red/);
  });
});
