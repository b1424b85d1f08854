// Layer: util. A progress bar with rate and ETA on stderr. On a terminal it
// redraws one line; otherwise (CI, pipes) it prints a line every ~10 %, so logs
// stay readable. Nothing is drawn during the first second: a job that finishes
// sooner leaves no trace, and the first ETA shown rests on a measured rate.
// Used by the trainer and, for evaluation, swipes and k-means, by src/eval.

/** A job shorter than this prints nothing. */
const SHOW_AFTER_MS = 1000;

/** A progress bar with rate and ETA on stderr (see the module comment). */
export class ProgressBar {
  readonly #total: number;
  readonly #label: string;
  readonly #stream: NodeJS.WriteStream;
  readonly #tty: boolean;
  readonly #start = Date.now();
  #done = 0;
  #lastDecile = -1;
  #shown = false;

  constructor(total: number, label: string, stream: NodeJS.WriteStream = process.stderr) {
    this.#total = Math.max(1, total);
    this.#label = label;
    this.#stream = stream;
    this.#tty = stream.isTTY === true && !process.env.CI;
  }

  tick(n = 1, extra = ''): void {
    this.#done = Math.min(this.#total, this.#done + n);
    const elapsedMs = Date.now() - this.#start;
    if (elapsedMs < SHOW_AFTER_MS) return;
    const frac = this.#done / this.#total;
    const elapsed = elapsedMs / 1000;
    const eta = this.#done > 0 ? (elapsed / this.#done) * (this.#total - this.#done) : 0;
    const text = `${this.#label} ${this.#done}/${this.#total} ${(100 * frac).toFixed(0).padStart(3)}% ${fmt(elapsed)}<${fmt(eta)} ${extra}`;
    if (this.#tty) {
      const width = 24;
      const filled = Math.round(frac * width);
      this.#stream.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K`);
      this.#shown = true;
      if (this.#done === this.#total) this.#stream.write('\n');
    } else {
      const decile = Math.floor(frac * 10);
      if (decile !== this.#lastDecile) {
        this.#lastDecile = decile;
        this.#stream.write(`${text}\n`);
      }
    }
  }

  /** Ends a bar that stopped short of its total (a break, an error): the terminal line is closed. */
  close(): void {
    if (this.#tty && this.#shown && this.#done < this.#total) this.#stream.write('\n');
    this.#shown = false;
  }
}

/** A bar when `enabled`, else null: callers write `bar?.tick()`. */
export function progressBar(enabled: boolean | undefined, total: number, label: string): ProgressBar | null {
  return enabled === true ? new ProgressBar(total, label) : null;
}

function fmt(seconds: number): string {
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
