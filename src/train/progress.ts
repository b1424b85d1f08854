// Layer: train. A progress bar with rate and ETA on stderr. On a terminal it
// redraws one line; otherwise (CI, pipes) it prints a line every ~10 %, so logs stay readable.

export class ProgressBar {
  readonly #total: number;
  readonly #label: string;
  readonly #tty: boolean;
  readonly #start = Date.now();
  #done = 0;
  #lastDecile = -1;

  constructor(total: number, label: string, stream: NodeJS.WriteStream = process.stderr) {
    this.#total = Math.max(1, total);
    this.#label = label;
    this.#tty = stream.isTTY === true && !process.env.CI;
  }

  tick(n = 1, extra = ''): void {
    this.#done = Math.min(this.#total, this.#done + n);
    const frac = this.#done / this.#total;
    const elapsed = (Date.now() - this.#start) / 1000;
    const eta = this.#done > 0 ? (elapsed / this.#done) * (this.#total - this.#done) : 0;
    const text = `${this.#label} ${this.#done}/${this.#total} ${(100 * frac).toFixed(0).padStart(3)}% ${fmt(elapsed)}<${fmt(eta)} ${extra}`;
    if (this.#tty) {
      const width = 24;
      const filled = Math.round(frac * width);
      process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K`);
      if (this.#done === this.#total) process.stderr.write('\n');
    } else {
      const decile = Math.floor(frac * 10);
      if (decile !== this.#lastDecile) {
        this.#lastDecile = decile;
        process.stderr.write(`${text}\n`);
      }
    }
  }
}

function fmt(seconds: number): string {
  const s = Math.round(seconds);
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}
