import type { Command } from '../command.ts';
import { attackCommand } from './attack.ts';
import { campaignCommand } from './campaign.ts';
import { devicesCommand } from './devices.ts';
import { exportDatasetCommand } from './export-dataset.ts';
import { ledgerCommand } from './ledger.ts';
import { powerflowCommand } from './powerflow.ts';
import { probeCommand } from './probe.ts';
import { replayCommand } from './replay.ts';
import { reportCommand } from './report.ts';
import { runCommand } from './run.ts';
import { simulateCommand } from './simulate.ts';
import { startCommand } from './start.ts';
import { workerCommand } from './worker.ts';

/** Every CLI command, in the order `gridloop --help` lists them. */
export const commands: Command[] = [
  startCommand,
  powerflowCommand,
  reportCommand,
  simulateCommand,
  replayCommand,
  runCommand,
  devicesCommand,
  probeCommand,
  attackCommand,
  exportDatasetCommand,
  campaignCommand,
  workerCommand,
  ledgerCommand,
];
