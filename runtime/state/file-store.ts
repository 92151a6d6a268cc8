/**
 * The admin state in a local file (SPEC §9): `<table>.admin.json` beside the table, or in
 * `--state-dir`. What `vmc serve` uses without `--state`.
 *
 * One machine, one writer: `vmc serve --workers N` sends every admin write to the cluster
 * primary, so only one process writes the file; the workers read it on every table load.
 * Writes replace the file atomically (a temporary file, then a rename), so a reader sees the
 * old document or the new one, never half of one.
 *
 * Versions are counted by this process: each time the text it reads or writes differs from
 * the last it knew, the version goes up. That is enough for the compare-and-set the admin
 * backend relies on (its writes are serialized, and a file changed behind its back — an
 * operator's edit — shows up as a conflict that it re-reads).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import {
  Listeners,
  NO_STATE,
  type ChangeOrigin,
  type StateSnapshot,
  type StateStore,
  type StoreStatus,
  type WriteOutcome,
} from './store.js';

const NO_COOLDOWNS: ReadonlyMap<string, number> = new Map();

export class FileStateStore implements StateStore {
  readonly kind = 'file';
  readonly shared = false;
  readonly status: StoreStatus = 'ok';
  readonly #changes = new Listeners<[StateSnapshot, ChangeOrigin]>();
  #snap: StateSnapshot = NO_STATE;
  #tmpSeq = 0;
  /** Writes run one at a time (compare, then replace). */
  #queue: Promise<unknown> = Promise.resolve();

  constructor(readonly path: string) {}

  get location(): string {
    return this.path;
  }

  current(): StateSnapshot {
    return this.#snap;
  }

  /** The file's text now (null when there is none). Throws the file system's error when it cannot be read. */
  async read(): Promise<StateSnapshot> {
    let text: string | null;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      text = null;
    }
    if (text !== this.#snap.text) {
      this.#snap = { version: this.#snap.version + 1, text };
      this.#changes.emit(this.#snap, 'remote');
    }
    return this.#snap;
  }

  write(expectVersion: number, text: string): Promise<WriteOutcome> {
    const run = async (): Promise<WriteOutcome> => {
      if (expectVersion !== this.#snap.version) return { ok: false, current: this.#snap };
      const before = this.#snap;
      const now = await this.read(); // edited behind our back since? then that edit wins the race
      if (now !== before) return { ok: false, current: now };
      await mkdir(dirname(this.path), { recursive: true });
      const tmp = `${this.path}.${process.pid}.${++this.#tmpSeq}.tmp`;
      await writeFile(tmp, text);
      await rename(tmp, this.path);
      this.#snap = { version: before.version + 1, text };
      this.#changes.emit(this.#snap, 'self');
      return { ok: true, snapshot: this.#snap };
    };
    const next = this.#queue.then(run, run);
    this.#queue = next.catch(() => undefined);
    return next;
  }

  /**
   * Moves the file aside (the admin backend's quarantine of a state that cannot be applied):
   * returns the new path, or null when there was no file.
   */
  async moveAside(suffix: string): Promise<string | null> {
    const aside = `${this.path}.${suffix}`;
    try {
      await rename(this.path, aside);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
    this.#snap = { version: this.#snap.version + 1, text: null };
    return aside;
  }

  onChange(listener: (snapshot: StateSnapshot, origin: ChangeOrigin) => void): () => void {
    return this.#changes.add(listener);
  }

  onStatus(): () => void {
    return () => undefined; // a local file is always reachable (a read error is reported by read())
  }

  shareCooldown(): void {
    // one machine: nobody to tell
  }

  onCooldown(): () => void {
    return () => undefined;
  }

  cooldowns(): ReadonlyMap<string, number> {
    return NO_COOLDOWNS;
  }

  async close(): Promise<void> {}
}
