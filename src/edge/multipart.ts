/**
 * `multipart/byteranges` framing (RFC 9110 §14.6), as a pure plan: the bytes around each part
 * and the exact Content-Length, computed before any byte of the body is read, so the response
 * is never chunked and a client can trust its length.
 *
 * Body layout (CRLF line ends; the first delimiter has no leading CRLF, as RFC 2046 allows):
 *
 *   --<boundary>\r\n
 *   Content-Type: <type>\r\n
 *   Content-Range: bytes <a>-<b>/<size>\r\n
 *   \r\n
 *   <bytes a..b>\r\n
 *   --<boundary>\r\n
 *   …
 *   <bytes y..z>\r\n
 *   --<boundary>--\r\n
 */
import { randomBytes } from 'node:crypto';
import { contentRange, type SatisfiableRange } from './range.ts';

export interface MultipartPart {
  /** Delimiter and part headers, sent before the part's bytes. */
  head: Buffer;
  range: SatisfiableRange;
}

export interface MultipartPlan {
  /** The response's Content-Type, with the boundary. */
  contentType: string;
  /** Exact length of the whole body. */
  contentLength: number;
  parts: MultipartPart[];
  /** The close delimiter, sent after the last part. */
  tail: Buffer;
}

/**
 * A fresh boundary: 24 random hex digits, so it is as unlikely to occur in the bytes of a part
 * as a random 96-bit string (RFC 2046 §5.1.1 asks that it not occur; a fixed one could).
 */
export const newBoundary = (): string => `haul-${randomBytes(12).toString('hex')}`;

const BOUNDARY_RE = /^[0-9A-Za-z'()+_,./:=?-]{1,70}$/;

/** Plans a multipart/byteranges body for `ranges` of a representation of `size` bytes. */
export function planMultipart(
  ranges: readonly SatisfiableRange[],
  size: number,
  partContentType: string,
  boundary: string = newBoundary(),
): MultipartPlan {
  if (!BOUNDARY_RE.test(boundary)) throw new RangeError('planMultipart: invalid boundary');
  if (/[\r\n]/.test(partContentType)) throw new RangeError('planMultipart: invalid content type');
  let contentLength = 0;
  const parts = ranges.map((range, i) => {
    const head = Buffer.from(
      `${i === 0 ? '' : '\r\n'}--${boundary}\r\nContent-Type: ${partContentType}\r\nContent-Range: ${contentRange(range, size)}\r\n\r\n`,
      'latin1',
    );
    contentLength += head.length + (range.end - range.start + 1);
    return { head, range };
  });
  const tail = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
  contentLength += tail.length;
  return { contentType: `multipart/byteranges; boundary=${boundary}`, contentLength, parts, tail };
}
