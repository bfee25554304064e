/**
 * vitest setup file: each test file's default test and hook timeouts are scaled to the machine's
 * speed when the file starts (see machine-speed.ts), so a loaded machine gives slow tests more
 * time to wait, up to 5×, while a hung test still fails.
 */
import { vi } from 'vitest';
import { slowness } from './machine-speed.ts';

const BASE_TEST_TIMEOUT_MS = 30_000;
const BASE_HOOK_TIMEOUT_MS = 60_000;

const factor = slowness();
vi.setConfig({
  testTimeout: Math.round(BASE_TEST_TIMEOUT_MS * factor),
  hookTimeout: Math.round(BASE_HOOK_TIMEOUT_MS * factor),
});
