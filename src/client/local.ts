import { stat } from 'node:fs/promises';
import type { Chunk } from './job.ts';
import { Journal, type JournalHeader, type JournalOpenOutcome, journalPath } from './journal.ts';
import { PartFile } from './part-file.ts';

/** What is on disk for a download, ready to resume. */
export interface LocalState {
  part: PartFile;
  journal: Journal;
  done: Set<number>;
  /** Done chunks trusted from the journal: re-verified while the whole file is hashed. */
  unverified: Set<number>;
  outcome: JournalOpenOutcome;
  /** Chunks checked by reading them now (written but unchecked at a crash, server claims, or a `.part` without journal). */
  checked: number;
}

/**
 * Opens `<out>.part` and its journal for a download described by `header`:
 * - same download in the journal, `.part` present → resume from the journal (entries re-verified
 *   later, on the hashing pass), and check by reading them the chunks the journal says were
 *   written but not checked yet, and those the server says are done but the journal does not know
 *   (`claimed`);
 * - another version in the journal → discard both and start at zero (never splice versions);
 * - a `.part` without a usable journal → read and verify each of its chunks (when there are
 *   digests to verify against; otherwise start at zero);
 * - no `.part` → start at zero (a journal without its `.part` means nothing).
 */
export async function openLocal(
  partPath: string,
  header: JournalHeader,
  chunks: readonly Chunk[],
  claimed: Iterable<number> = [],
): Promise<LocalState> {
  const st = await stat(partPath).catch(() => null);
  const partOk = st?.isFile() === true && st.size === header.size;
  const { journal, done: journaled, written, outcome } = await Journal.open(journalPath(partPath), header, { discard: !partOk });
  const canVerify = chunks.every((c) => c.sha256);
  const resumed = outcome === 'resumed';
  const fresh = outcome === 'other-version' || (!resumed && !canVerify);
  const { part, existed } = await PartFile.open(partPath, header.size, { fresh });
  const done = new Set<number>();
  const unverified = new Set<number>();
  if (existed && resumed)
    for (const i of journaled) {
      done.add(i);
      unverified.add(i);
    }
  let toCheck: number[] = [];
  if (existed && canVerify)
    toCheck = resumed ? [...new Set([...written, ...claimed])].filter((i) => !journaled.has(i)) : chunks.map((c) => c.index);
  let checked = 0;
  for (const i of toCheck) {
    const c = chunks[i];
    if (!c) continue;
    checked++;
    if ((await part.digest(c.start, c.end)) === c.sha256) {
      done.add(i);
      journal.append(i);
    }
  }
  return { part, journal, done, unverified, outcome, checked };
}
