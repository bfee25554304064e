/** One CLI command: a job, its help text, and the code that does it. */
export interface Command {
  name: string;
  /** One line for the command list. */
  summary: string;
  /** Full `--help` text: usage, options, exit codes that matter. */
  help: string;
  /** Returns the process exit code (see exit-codes.ts). Throws CliError for clean failures. */
  run(argv: string[]): Promise<number>;
}
