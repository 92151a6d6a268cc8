/**
 * Progress for long builds (issue: "a progress indication for builds that take more than a
 * second"): silent for the first second, then the current phase and elapsed time on stderr
 * (rewritten in place on a TTY, one line per phase otherwise).
 */
export class Progress {
  #start = performance.now();
  #phase = 'starting';
  #timer: NodeJS.Timeout | null;
  #shown = false;
  readonly #tty = process.stderr.isTTY === true;

  constructor(readonly enabled = true) {
    this.#timer = enabled ? setInterval(() => this.#render(), 1000) : null;
    this.#timer?.unref();
  }

  phase(name: string): void {
    this.#phase = name;
    if (this.#shown && !this.#tty) this.#render();
  }

  #render(): void {
    const s = ((performance.now() - this.#start) / 1000).toFixed(1);
    this.#shown = true;
    if (this.#tty) process.stderr.write(`\r\x1b[2Kvmc: ${this.#phase}… ${s}s`);
    else process.stderr.write(`vmc: ${this.#phase}… ${s}s\n`);
  }

  done(): void {
    if (this.#timer) clearInterval(this.#timer);
    if (this.#shown && this.#tty) process.stderr.write('\r\x1b[2K');
  }
}
