/**
 * Response bodies of the edge: one origin stream (200 and single-range 206) or the parts of a
 * multipart/byteranges body. Both stream with back-pressure, count what they pass, and fail if an
 * origin sends more or fewer bytes than were announced, so a response never silently disagrees
 * with its Content-Length.
 */
import { Readable, type Writable } from 'node:stream';
import type { MultipartPlan } from './multipart.ts';
import type { ChunkSource } from './origin.ts';
import type { SatisfiableRange } from './range.ts';

/** Bytes that went through a guard, for metrics and logs. */
export interface ByteCounter {
  bytes: number;
}

const noop = () => {};

/** An error that means the client went away, not that anything failed. */
const clientGone = () => Object.assign(new Error('the client went away'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });

/**
 * Streams exactly `expected` (> 0) bytes of `body` into `res`, then ends it.
 *
 * A hand-written pump rather than `pipeline(body, guard, res)`: on 64 KiB ranges Node's pipeline
 * and an extra Transform cost more than the bytes (measured at about half the requests per
 * second), and the last chunk goes out with `res.end(chunk)`, finishing the response in the same
 * tick. Back-pressure: the body is paused while the socket is full.
 *
 * `done(err)` is called once: without an error when the response has finished; with one when the
 * origin failed, sent more or fewer bytes than `expected`, or the client went away. On error both
 * streams are destroyed (so a client never takes a short body for a complete one). Once the last
 * expected byte has arrived the body is destroyed, which releases its file or connection.
 */
export function sendExact(
  body: Readable,
  res: Writable,
  expected: number,
  counter: ByteCounter,
  done: (err?: Error) => void,
): void {
  let seen = 0;
  let settled = false;
  const detachBody = () => {
    body.off('data', onData);
    body.off('end', onEnd);
    body.off('close', onEnd);
    body.off('error', settle);
    // A body destroyed with an error (an abort signal) may emit it after we let go: never unhandled.
    body.on('error', noop);
    res.off('drain', onDrain);
  };
  function settle(err?: Error | null) {
    if (settled) return;
    settled = true;
    detachBody();
    res.off('finish', onFinish);
    res.off('close', onClose);
    res.off('error', settle);
    if (err) {
      body.destroy();
      res.destroy();
    }
    done(err ?? undefined);
  }
  function onData(chunk: Buffer) {
    seen += chunk.length;
    if (seen > expected) return settle(new Error(`origin sent more than the ${expected} bytes announced`));
    counter.bytes += chunk.length;
    if (seen < expected) {
      if (!res.write(chunk)) body.pause();
      return;
    }
    // The last announced byte: finish the response with it and let the origin stream go.
    detachBody();
    body.destroy();
    res.end(chunk);
  }
  function onEnd() {
    if (seen !== expected) settle(new Error(`origin ended after ${seen} of ${expected} bytes`));
  }
  function onDrain() {
    body.resume();
  }
  function onFinish() {
    settle();
  }
  function onClose() {
    if (!res.writableFinished) settle(clientGone());
  }
  body.on('data', onData);
  body.once('end', onEnd);
  // A body destroyed without 'end' or 'error' (an abort) is short too.
  body.once('close', onEnd);
  body.once('error', settle);
  res.on('drain', onDrain);
  res.once('finish', onFinish);
  res.once('close', onClose);
  res.once('error', settle);
}

/**
 * The multipart body as one stream. Parts are opened one at a time, when the previous one is
 * done (so at most one origin stream is open), except the first, which the caller opened before
 * sending the headers so that a vanished object is still a clean error status. Every stream
 * opened here is destroyed when the body ends or is destroyed; the caller destroys `first` if
 * the body never starts.
 */
export function multipartBody(
  plan: MultipartPlan,
  first: Readable,
  open: (range: SatisfiableRange) => Promise<Readable>,
  counter: ByteCounter,
): Readable {
  async function* parts(): AsyncGenerator<Buffer> {
    for (const [i, part] of plan.parts.entries()) {
      yield part.head;
      counter.bytes += part.head.length;
      const expected = part.range.end - part.range.start + 1;
      let body: Readable | undefined = i === 0 ? first : undefined;
      try {
        body ??= await open(part.range);
        let seen = 0;
        for await (const chunk of body as AsyncIterable<Buffer>) {
          seen += chunk.length;
          if (seen > expected) throw new Error(`origin sent more than the ${expected} bytes of part ${i}`);
          counter.bytes += chunk.length;
          yield chunk;
        }
        if (seen !== expected) throw new Error(`origin ended after ${seen} of ${expected} bytes of part ${i}`);
      } finally {
        body?.destroy();
      }
    }
    yield plan.tail;
    counter.bytes += plan.tail.length;
  }
  return Readable.from(parts(), { objectMode: false, highWaterMark: 64 * 1024 });
}

/**
 * Sends exactly `expected` (> 0) bytes pulled from `src` into `res`, then ends it: `sendExact`
 * for an origin that offers chunks (`Origin.chunks`). A chunk that is ready (a cached slice) is
 * written in the same tick, so a warm response costs a few `res.write` calls and no stream
 * hand-offs; the next chunk is asked for only while the socket takes more (back-pressure through
 * 'drain'). Same contract as `sendExact`: `done(err)` once; on error (the origin failed, sent more
 * or fewer bytes, the client went away) the response is destroyed; the source is closed on every
 * end, as soon as its last byte is handed to the socket. A body that is one ready chunk is handed
 * over with `res.end(chunk)` and `done()` is called at once.
 */
export function sendChunks(
  src: ChunkSource,
  res: Writable,
  expected: number,
  counter: ByteCounter,
  done: (err?: Error) => void,
): void {
  let ready: Buffer | null | Promise<Buffer | null>;
  try {
    ready = src.next();
  } catch (e) {
    src.close();
    res.destroy();
    done(e as Error);
    return;
  }
  // The common warm case, a range inside one cached slice: the whole body is ready now. It is
  // handed to the socket with the headers, and nothing is left to watch (`done()` at once).
  if (ready instanceof Uint8Array && ready.length === expected) {
    counter.bytes += ready.length;
    src.close();
    res.end(ready);
    done();
    return;
  }
  pumpChunks(src, res, expected, counter, done, ready);
}

/** The rest of `sendChunks` (kept apart so that the one-chunk case creates none of these closures). */
function pumpChunks(
  src: ChunkSource,
  res: Writable,
  expected: number,
  counter: ByteCounter,
  done: (err?: Error) => void,
  ready: Buffer | null | Promise<Buffer | null>,
): void {
  let sent = 0;
  let settled = false;
  let first: Buffer | null | Promise<Buffer | null> | undefined = ready;
  const recycle = src.recycle ? (chunk: Buffer) => src.recycle?.(chunk) : undefined;
  function settle(err?: Error | null) {
    if (settled) return;
    settled = true;
    res.off('drain', pump);
    res.off('finish', onFinish);
    res.off('close', onClose);
    res.off('error', settle);
    src.close();
    if (err) res.destroy();
    done(err ?? undefined);
  }
  function onFinish() {
    settle();
  }
  function onClose() {
    if (!res.writableFinished) settle(clientGone());
  }
  /** Hands a chunk to the socket; true when the next one may follow at once. */
  function put(chunk: Buffer | null): boolean {
    if (settled) return false;
    if (chunk === null) {
      settle(new Error(`origin ended after ${sent} of ${expected} bytes`));
      return false;
    }
    sent += chunk.length;
    if (sent > expected) {
      settle(new Error(`origin sent more than the ${expected} bytes announced`));
      return false;
    }
    counter.bytes += chunk.length;
    if (sent === expected) {
      // The last announced byte: let the origin go and finish the response with it.
      src.close();
      res.end(chunk);
      return false;
    }
    // false: the socket is full, 'drain' resumes the pump. Once written (never on an error), the
    // chunk's memory may serve a later chunk.
    if (recycle) return res.write(chunk, (err) => err || recycle(chunk));
    return res.write(chunk);
  }
  function later(chunk: Buffer | null) {
    if (put(chunk)) pump();
  }
  function pump() {
    while (!settled) {
      let c: Buffer | null | Promise<Buffer | null>;
      if (first !== undefined) {
        c = first;
        first = undefined;
      } else {
        try {
          c = src.next();
        } catch (e) {
          return settle(e as Error);
        }
      }
      if (c instanceof Promise) {
        c.then(later, settle);
        return;
      }
      if (!put(c)) return;
    }
  }
  res.on('drain', pump);
  res.once('finish', onFinish);
  res.once('close', onClose);
  res.once('error', settle);
  pump();
}

/**
 * A stream over a chunk source (for consumers that want a Readable): one chunk per `_read`,
 * back-pressure from the stream's own buffer. Destroying the stream closes the source; an aborted
 * `signal` destroys the stream with the signal's reason.
 */
export function sourceStream(src: ChunkSource, signal?: AbortSignal): Readable {
  const onAbort = () => stream.destroy(signal?.reason as Error);
  const stream = new Readable({
    read() {
      let c: Buffer | null | Promise<Buffer | null>;
      try {
        c = src.next();
      } catch (e) {
        this.destroy(e as Error);
        return;
      }
      if (c instanceof Promise)
        c.then(
          (chunk) => {
            if (!this.destroyed) this.push(chunk);
          },
          (e: unknown) => this.destroy(e as Error),
        );
      else this.push(c);
    },
    destroy(err, cb) {
      src.close();
      signal?.removeEventListener('abort', onAbort);
      cb(err);
    },
  });
  if (signal?.aborted) stream.destroy(signal.reason as Error);
  else signal?.addEventListener('abort', onAbort, { once: true });
  return stream;
}

/**
 * A chunk source over a stream (an origin that only streams: S3, an upstream edge). Chunks are
 * what the stream buffered; `close()` destroys the stream. A stream that closes before its end
 * fails the source.
 */
export function streamSource(body: Readable): ChunkSource {
  let ended = false;
  let failure: Error | undefined;
  let waiter: { resolve: (c: Buffer | null) => void; reject: (e: Error) => void } | undefined;
  const settle = () => {
    const w = waiter;
    if (!w) return;
    const c = body.read() as Buffer | null;
    if (c !== null) w.resolve(c);
    else if (failure) w.reject(failure);
    else if (ended) w.resolve(null);
    else return;
    waiter = undefined;
  };
  body.on('readable', settle);
  body.once('end', () => {
    ended = true;
    settle();
  });
  body.once('error', (e: Error) => {
    failure = e;
    settle();
  });
  body.once('close', () => {
    if (!ended)
      failure ??= Object.assign(new Error('origin stream closed before its end'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
    settle();
  });
  return {
    next() {
      const c = body.read() as Buffer | null;
      if (c !== null) return c;
      if (failure) return Promise.reject(failure);
      if (ended) return null;
      return new Promise((resolve, reject) => {
        waiter = { resolve, reject };
      });
    },
    close() {
      ended = true;
      body.destroy();
    },
  };
}
