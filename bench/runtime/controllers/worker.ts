/**
 * One hosted controller, in a worker thread of the loop process (host.ts): builds it from its
 * module, then answers each state snapshot with its actions. However long `decide` takes, or
 * whatever it throws, the loop's thread never waits for it.
 */

import { pathToFileURL } from 'node:url';
import { parentPort, workerData } from 'node:worker_threads';
import type { Controller, ControllerAction } from '../../../twin/control/contract.ts';
import type { ControllerToHost, ControllerWorkerData, HostToController } from './messages.ts';
import type { ControllerFactory } from './spec.ts';

const data = workerData as ControllerWorkerData;
const port = parentPort!;
const post = (message: ControllerToHost) => port.postMessage(message);
const messageOf = (err: unknown) => (err instanceof Error ? err.message : String(err));

async function build(): Promise<Controller> {
  const imported = (await import(pathToFileURL(data.module).href)) as { default?: unknown };
  if (typeof imported.default !== 'function')
    throw new TypeError(
      `${data.module}: the default export must be a function (options, { id }) → Controller`,
    );
  const controller = await (imported.default as ControllerFactory)(data.options, {
    id: data.id,
    catalog: data.catalog,
    ...(data.runDir ? { runDir: data.runDir } : {}),
  });
  if (typeof controller?.decide !== 'function')
    throw new TypeError(`${data.module}: the factory returned no controller (an object with decide())`);
  if (!(controller.period_s > 0)) throw new TypeError(`${data.module}: period_s must be a positive number`);
  if (!Array.isArray(controller.claims))
    throw new TypeError(`${data.module}: claims must be a list of actuators`);
  controller.attach?.(data.catalog);
  return controller;
}

try {
  const controller = await build();
  const actions: ControllerAction[] = [];
  port.on('message', (message: HostToController) => {
    if (message.type === 'detach') {
      post({ type: 'detaching' });
      // detach() may return a promise (the market writes its chain): the thread ends when it is kept.
      Promise.resolve()
        .then(() => controller.detach?.() as unknown)
        .catch(() => {})
        .finally(() => process.exit(0));
      return;
    }
    if (message.type === 'input') {
      try {
        controller.input?.(message.message);
      } catch (err) {
        post({ type: 'input-refused', message: messageOf(err) });
      }
      return;
    }
    if (message.type === 'feedback') {
      try {
        controller.feedback?.(message.refused, message.events);
      } catch {
        // A feedback hook that throws loses only its own bookkeeping.
      }
      return;
    }
    const start = performance.now();
    actions.length = 0;
    try {
      controller.decide(message.state, actions);
      const decide_ms = performance.now() - start;
      const telemetry = controller.telemetry?.();
      post({ type: 'decided', seq: message.seq, actions, decide_ms, ...(telemetry ? { telemetry } : {}) });
    } catch (err) {
      post({ type: 'threw', seq: message.seq, message: messageOf(err) });
    }
  });
  post({ type: 'ready', period_s: controller.period_s, claims: [...controller.claims] });
} catch (err) {
  post({ type: 'failed', message: messageOf(err) });
}
