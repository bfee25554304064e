#!/usr/bin/env node
// Entry point for the `gridloop` command: loads the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

// `gridloop powerflow case.m | head` closes our stdout early: that is the reader's choice, not a failure.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err) => {
    if (err.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw err;
  });
}

register();
const { main } = await import('../bench/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
