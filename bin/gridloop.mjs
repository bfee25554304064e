#!/usr/bin/env node
// Entry point for the `gridloop` command: loads the TypeScript sources through tsx.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../bench/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
