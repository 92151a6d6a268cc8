/**
 * Live progress of a run (SPEC §11 "A TTY shows live progress"): on a terminal, one line
 * rewritten four times a second with the phase, the target, elapsed time and the
 * generator's counters; elsewhere, one line per segment when it starts.
 */
export class LiveProgress {
  readonly #tty: boolean;
  readonly #out: NodeJS.WriteStream;
  #timer: NodeJS.Timeout | null = null;
  #label = '';
  #target = '';
  #durationMs = 0;
  #start = 0;
  #counters: Int32Array | null = null;
  #base = [0, 0, 0];

  constructor(out: NodeJS.WriteStream = process.stderr) {
    this.#out = out;
    this.#tty = out.isTTY === true;
  }

  status(text: string): void {
    this.#stop();
    if (this.#tty) this.#out.write(`\r\x1b[2Kvmc bench: ${text}…`);
    else this.#out.write(`vmc bench: ${text}\n`);
  }

  segment(label: string, target: string, durationMs: number, counters: Int32Array): void {
    this.#stop();
    this.#label = label;
    this.#target = target;
    this.#durationMs = durationMs;
    this.#start = performance.now();
    this.#counters = counters;
    this.#base = [counters[0], counters[1], counters[2]];
    if (!this.#tty) {
      this.#out.write(`vmc bench: ${label} → ${target} (${(durationMs / 1000).toFixed(1)} s)\n`);
      return;
    }
    this.#render();
    this.#timer = setInterval(() => this.#render(), 250);
    this.#timer.unref();
  }

  #render(): void {
    const c = this.#counters!;
    const sent = c[0] - this.#base[0];
    const done = c[1] - this.#base[1];
    const failed = c[2] - this.#base[2];
    const s = (performance.now() - this.#start) / 1000;
    const rps = s > 0 ? done / s : 0;
    this.#out.write(
      `\r\x1b[2Kvmc bench: ${this.#label} → ${this.#target}  ${s.toFixed(1)}/${(this.#durationMs / 1000).toFixed(1)} s  ` +
        `sent ${sent}  done ${done}  failed ${failed}  ${rps.toFixed(0)} req/s`,
    );
  }

  #stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  done(): void {
    this.#stop();
    if (this.#tty) this.#out.write('\r\x1b[2K');
  }
}
