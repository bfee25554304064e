/** Process exit codes of every `gridloop` command. Documented in docs/cli.md. */
export const ExitCode = {
  /** The command did what was asked; scenario assertions (if any) passed. */
  ok: 0,
  /** The run completed but at least one scenario assertion failed. */
  assertionsFailed: 1,
  /** Bad command line, or an input file that could not be read or validated. */
  usage: 2,
  /** Something failed while running: a device, a port, a server. */
  runtime: 3,
  /** Stopped by Ctrl-C (SIGINT) before its end; 128 + 2, as a shell reports a SIGINT death. */
  interrupted: 130,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** An error the CLI reports as one clear line, without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const usageError = (message: string) => new CliError(message, ExitCode.usage);
export const runtimeError = (message: string) => new CliError(message, ExitCode.runtime);
