/**
 * Response bodies of the edge: one origin stream (200 and single-range 206) or the parts of a
 * multipart/byteranges body. Both stream with back-pressure, count what they pass, and fail if an
 * origin sends more or fewer bytes than were announced, so a response never silently disagrees
 * with its Content-Length.
 */
import { Readable, Transform, type TransformCallback } from 'node:stream';
import type { MultipartPlan } from './multipart.ts';
import type { SatisfiableRange } from './range.ts';

/** Bytes that went through a guard, for metrics and logs. */
export interface ByteCounter {
  bytes: number;
}

/** Passes exactly `expected` bytes; errors if the origin sends more, or ends with fewer. */
export function lengthGuard(expected: number, counter: ByteCounter): Transform {
  let seen = 0;
  return new Transform({
    // One fs chunk (64 KiB) per write, so the guard does not split the origin's rhythm.
    writableHighWaterMark: 64 * 1024,
    readableHighWaterMark: 64 * 1024,
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      seen += chunk.length;
      if (seen > expected) return cb(new Error(`origin sent more than the ${expected} bytes announced`));
      counter.bytes += chunk.length;
      cb(null, chunk);
    },
    flush(cb: TransformCallback) {
      cb(seen === expected ? null : new Error(`origin ended after ${seen} of ${expected} bytes`));
    },
  });
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
