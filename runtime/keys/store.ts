/**
 * The caller keys of one serving process (SPEC §12): the keys file merged with the admin keys
 * (created through `POST /admin/keys`, revocations through `DELETE /admin/keys/{id}`), as one
 * {@link KeyRing} swapped atomically on every change.
 *
 *   keys file ──┐   (watch on its directory + a stat poll: in-place edits and renames)
 *               ├──▶ merge ──▶ KeyRing  (one reference; requests keep the entry they hold)
 *   admin keys ─┘   (read from the persisted admin state: after an admin change here, a
 *                    sibling worker's change, SIGHUP, or a reload)
 *
 * Failure keeps what works: a keys file that does not parse (mid-edit, a typo) is logged at
 * `error` with its positioned diagnostics and the previous file keys stay in service; an
 * unreadable admin state likewise keeps the previous admin keys. At start-up an invalid keys
 * file is an error (the caller refuses to start).
 *
 * Merge rules: an admin key whose id is also in the file is ignored (the file wins; a `warn`
 * line says so, unless it is the same key — a keys file seeds a shared store with its keys,
 * SPEC §14); an admin revocation applies to a file key with that id and the same hash.
 */
import { watch as fsWatch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname } from 'node:path';
import type { Logger } from '../log.js';
import { emptyAdminKeys, type AdminKeys, type KeySpec } from './entry.js';
import { KeysFileError, parseKeysFile, readKeysFile } from './file.js';
import type { KeyMetrics } from './metrics.js';
import { KeyEntry, KeyRing } from './ring.js';

export interface KeyStoreOptions {
  /** The keys file (`vmc serve --keys FILE`). */
  file: string;
  /** Reads the admin keys from the persisted admin state (AdminBackend.readKeys); absent = none. */
  readAdmin?: () => Promise<AdminKeys>;
  log: Logger;
  metrics: KeyMetrics;
  /** Watch the file and poll it. Default true. */
  watch?: boolean;
  /** Stat poll interval, ms (the backstop of the directory watch). Default 500. */
  pollMs?: number;
  /** Debounce of watch events, ms. Default 50. */
  debounceMs?: number;
}

/** The caller keys in service, and how they change. */
export class KeyStore {
  /** The keys in service. Read it once per request. */
  ring: KeyRing;
  readonly file: string;
  readonly #opts: KeyStoreOptions;
  #fileKeys: KeySpec[];
  /** The file text last read (valid or not): unchanged text is not parsed or reported again. */
  #fileText: string;
  #adminKeys: AdminKeys = emptyAdminKeys();
  #fileStat = '';
  #watcher: FSWatcher | null = null;
  #poll: NodeJS.Timeout | null = null;
  #debounce: NodeJS.Timeout | null = null;
  /** Refreshes run one at a time; a refresh asked meanwhile runs once after (coalesced). */
  #running: Promise<void> | null = null;
  #queued: Promise<void> | null = null;
  #queuedReasons = new Set<string>();
  #closed = false;

  private constructor(opts: KeyStoreOptions, text: string, keys: KeySpec[]) {
    this.#opts = opts;
    this.file = opts.file;
    this.#fileText = text;
    this.#fileKeys = keys;
    this.ring = new KeyRing([]);
  }

  /** Reads the keys file (a KeysFileError when it is missing or invalid) and the admin keys; starts watching. */
  static async open(opts: KeyStoreOptions): Promise<KeyStore> {
    const { text, parsed } = await readKeysFile(opts.file);
    const store = new KeyStore(opts, text, parsed.entries);
    await store.#readAdmin('start');
    store.#fileStat = await statKey(opts.file);
    store.#rebuild();
    if (opts.watch !== false) store.#startWatching();
    return store;
  }

  /** Keys defined in the file and through the admin API, as merged. */
  get counts(): { file: number; admin: number } {
    let admin = 0;
    for (const e of this.ring.entries) if (e.source === 'admin') admin++;
    return { file: this.ring.size - admin, admin };
  }

  /** The file entry with this id (for revocations), or null. */
  fileKey(id: string): KeySpec | null {
    return this.#fileKeys.find((k) => k.id === id) ?? null;
  }

  /** Views of every key in service (GET /admin/keys): never a hash. */
  list(nowMs = Date.now()): Record<string, unknown>[] {
    return this.ring.entries.map((e) => e.view(nowMs));
  }

  /**
   * Re-reads the keys file (when its text changed) and the admin keys, and swaps the ring.
   * Never throws: problems are logged and the previous keys stay. Resolves once a refresh
   * that started after this call has finished (read-your-writes for admin changes).
   */
  refresh(reason: string): Promise<void> {
    if (this.#closed) return Promise.resolve();
    if (this.#running === null) {
      this.#running = this.#refreshNow(new Set([reason])).finally(() => (this.#running = null));
      return this.#running;
    }
    this.#queuedReasons.add(reason);
    if (this.#queued === null) {
      this.#queued = this.#running.then(() => {
        const reasons = this.#queuedReasons;
        this.#queuedReasons = new Set();
        this.#queued = null;
        return this.refresh([...reasons].join(','));
      });
    }
    return this.#queued;
  }

  close(): void {
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = null;
    if (this.#poll !== null) clearInterval(this.#poll);
    if (this.#debounce !== null) clearTimeout(this.#debounce);
  }

  async #refreshNow(reasons: Set<string>): Promise<void> {
    const reason = [...reasons].join(',');
    const before = this.ring;
    const fileChanged = await this.#readFile(reason);
    const adminChanged = await this.#readAdmin(reason);
    if (!fileChanged && !adminChanged) return;
    this.#rebuild();
    const { file, admin } = this.counts;
    this.#opts.log.info('caller keys loaded', {
      reason,
      keys: this.ring.size,
      file_keys: file,
      admin_keys: admin,
      previous_keys: before.size,
    });
  }

  /** Re-reads the file; true when valid new keys were taken. */
  async #readFile(reason: string): Promise<boolean> {
    const file = this.#opts.file;
    this.#fileStat = await statKey(file);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (err) {
      if (this.#fileText !== '\u0000missing') {
        this.#fileText = '\u0000missing';
        this.#opts.log.error('keys file unreadable; the previous keys stay in service', { reason, file, error: (err as Error).message });
      }
      return false;
    }
    if (text === this.#fileText) return false;
    this.#fileText = text;
    try {
      this.#fileKeys = parseKeysFile(file, text).entries;
      return true;
    } catch (err) {
      const error = err instanceof KeysFileError ? err.message : String(err);
      this.#opts.log.error('keys file rejected; the previous keys stay in service', { reason, file, error });
      return false;
    }
  }

  /** Re-reads the admin keys; true when they changed. */
  async #readAdmin(reason: string): Promise<boolean> {
    const read = this.#opts.readAdmin;
    if (read === undefined) return false;
    let next: AdminKeys;
    try {
      next = await read();
    } catch (err) {
      this.#opts.log.error('admin keys unreadable; the previous admin keys stay in service', { reason, error: (err as Error).message });
      return false;
    }
    if (JSON.stringify(next) === JSON.stringify(this.#adminKeys)) return false;
    this.#adminKeys = next;
    return true;
  }

  #rebuild(): void {
    const { metrics, log } = this.#opts;
    const entries: KeyEntry[] = [];
    const fileIds = new Map<string, string>(); // id → hash
    const revoked = this.#adminKeys.revoked;
    for (const spec of this.#fileKeys) {
      fileIds.set(spec.id, spec.hash);
      const r = Object.hasOwn(revoked, spec.id) && revoked[spec.id].hash === spec.hash ? revoked[spec.id].at : undefined;
      entries.push(new KeyEntry(spec, 'file', metrics.series(spec.id, spec.user_path), r === undefined ? {} : { revokedAt: r }));
    }
    for (const [id, k] of Object.entries(this.#adminKeys.created)) {
      if (fileIds.has(id)) {
        // the same key seeded into a shared store by a keys file (SPEC §14) is no conflict
        if (fileIds.get(id) !== k.hash) log.warn('admin key ignored: the keys file defines the same id', { key_id: id, file: this.file });
        continue;
      }
      const spec: KeySpec = { id, hash: k.hash, user_path: k.user_path };
      if (k.models !== undefined) spec.models = k.models;
      if (k.expires_at !== undefined) spec.expires_at = k.expires_at;
      entries.push(new KeyEntry(spec, 'admin', metrics.series(id, k.user_path), { createdAt: k.created_at }));
    }
    this.ring = new KeyRing(entries);
  }

  /**
   * Watches the file's directory (editors and deploys replace files by rename, which detaches a
   * watch on the file itself) and polls its stat as a backstop (filesystems without events).
   */
  #startWatching(): void {
    const file = this.#opts.file;
    const name = basename(file);
    const later = () => {
      if (this.#debounce !== null) clearTimeout(this.#debounce);
      this.#debounce = setTimeout(() => {
        this.#debounce = null;
        void this.refresh('watch');
      }, this.#opts.debounceMs ?? 50);
      this.#debounce.unref();
    };
    try {
      this.#watcher = fsWatch(dirname(file), (_event, changed) => {
        if (changed === null || changed === name) later();
      });
      this.#watcher.on('error', (err) => this.#opts.log.warn('keys file watcher failed; polling only', { error: err.message }));
      this.#watcher.unref();
    } catch (err) {
      this.#opts.log.warn('keys file watcher unavailable; polling only', { error: (err as Error).message });
    }
    this.#poll = setInterval(() => {
      void statKey(file).then((s) => {
        if (s !== this.#fileStat && !this.#closed) void this.refresh('poll');
      });
    }, this.#opts.pollMs ?? 500);
    this.#poll.unref();
  }
}

/** Identity of the file's current version: inode, size, mtime ('' when missing). */
async function statKey(file: string): Promise<string> {
  try {
    const s = await stat(file, { bigint: true });
    return `${s.ino}:${s.size}:${s.mtimeNs}`;
  } catch {
    return '';
  }
}
