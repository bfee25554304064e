import type { Command } from '../command.ts';
import { powerflowCommand } from './powerflow.ts';
import { reportCommand } from './report.ts';
import { simulateCommand } from './simulate.ts';
import { startCommand } from './start.ts';

/** Every CLI command, in the order `gridloop --help` lists them. */
export const commands: Command[] = [startCommand, powerflowCommand, reportCommand, simulateCommand];
