import { echo, echoMessage } from '../../twin/echo.ts';
import { closest } from './args.ts';
import type { Command } from './command.ts';
import { commands } from './commands/index.ts';
import { CliError, ExitCode } from './exit-codes.ts';

function overview(): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return [
    'gridloop: hardware-in-the-loop test bench and real-time digital twin for distributed energy systems',
    '',
    'Usage: gridloop <command> [options]     gridloop <command> --help',
    '',
    'Commands:',
    ...lines,
    '',
    'Exit codes: 0 ok, 1 scenario assertions failed, 2 usage or input error, 3 runtime failure.',
  ].join('\n');
}

/** Runs the CLI and returns the exit code; never throws. */
export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(overview());
    return name === undefined ? ExitCode.usage : ExitCode.ok;
  }
  const command: Command | undefined = commands.find((c) => c.name === name);
  if (!command) {
    const suggestion = closest(
      name,
      commands.map((c) => c.name),
    );
    console.error(
      `gridloop: unknown command '${echo(name)}'.${
        suggestion ? ` Did you mean 'gridloop ${suggestion}'?` : ''
      } Run 'gridloop --help' to list the commands.`,
    );
    return ExitCode.usage;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    console.log(command.help);
    return ExitCode.ok;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof CliError) {
      // Messages echo file names and arguments: a path of any length must not become a huge message.
      console.error(echoMessage(err.message));
      return err.exitCode;
    }
    console.error(
      echoMessage(`gridloop ${name}: unexpected failure: ${(err as Error)?.stack ?? String(err)}`),
    );
    return ExitCode.runtime;
  }
}
