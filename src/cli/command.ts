// Layer: cli. The shape every `rankshield <command>` module has.
import type { OptionTable } from '../util/options.js';

/** One sub-command: parses its own argv (after the command name) and runs. */
export interface Command {
  /** e.g. "train" or "data" */
  readonly name: string;
  /** One line for `rankshield --help`. */
  readonly summary: string;
  /** Full help text printed by `rankshield <name> --help`. */
  readonly usage: string;
  /** Every option it accepts (its usage text is made from the same table); absent for commands with subcommands. */
  readonly options?: OptionTable;
  /** Runs the command; resolves to the process exit code. */
  run(argv: string[]): Promise<number>;
}

export { UsageError } from '../util/usage-error.js';
