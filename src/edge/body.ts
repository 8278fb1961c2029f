/**
 * Response bodies of the edge: one origin stream (200 and single-range 206) or the parts of a
 * multipart/byteranges body. Both stream with back-pressure, count what they pass, and fail if an
 * origin sends more or fewer bytes than were announced, so a response never silently disagrees
 * with its Content-Length.
 */
import { Readable, type Writable } from 'node:stream';
import type { MultipartPlan } from './multipart.ts';
import type { SatisfiableRange } from './range.ts';

/** Bytes that went through a guard, for metrics and logs. */
export interface ByteCounter {
  bytes: number;
}

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
    body.on('error', () => {});
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
