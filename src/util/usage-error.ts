// Layer: util. The error of a user mistake on a command line (bad flag, bad
// value), kept below every layer so the CLI, the benchmarks and the service's
// start-up share it: printed without a stack trace, exit code 2.

/** A user mistake (bad flag, bad value): printed without a stack trace, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}
