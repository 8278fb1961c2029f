import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

/** S3 refuses presigned URLs that live longer than 7 days. */
export const MAX_PRESIGN_SECONDS = 604_800;

export interface PresignGetInput {
  bucket: string;
  key: string;
  expiresInSeconds: number;
  /** Sets `response-content-disposition` (attachment, RFC 6266). */
  filename?: string | undefined;
  /** Sets `response-content-type`. */
  contentType?: string | undefined;
}

// RFC 8187 attr-char: ALPHA / DIGIT / "!" / "#" / "$" / "&" / "+" / "-" / "." / "^" / "_" / "`" / "|" / "~"
const encodeRfc8187 = (s: string): string =>
  encodeURIComponent(s).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

/**
 * `Content-Disposition` per RFC 6266: a plain quoted `filename` when the name is safe ASCII;
 * otherwise an ASCII fallback (non-ASCII, quotes, backslashes and control characters replaced
 * by `_`) plus `filename*=UTF-8''…` for clients that understand RFC 8187.
 */
export function contentDisposition(filename: string, type: 'attachment' | 'inline' = 'attachment'): string {
  const fallback = filename.replace(/[^\x20-\x7e]|["\\%]/gu, '_');
  if (fallback === filename) return `${type}; filename="${filename}"`;
  return `${type}; filename="${fallback}"; filename*=UTF-8''${encodeRfc8187(filename)}`;
}

/**
 * A presigned GET for one object. Only `host` is signed (no Range, no checksum mode), so the
 * holder may send any `Range`, `If-Match` or `If-Range` header with it.
 */
export async function presignGetUrl(client: S3Client, input: PresignGetInput): Promise<string> {
  const { expiresInSeconds: secs } = input;
  if (!Number.isInteger(secs) || secs < 1 || secs > MAX_PRESIGN_SECONDS)
    throw new RangeError(`presignGetUrl: expiresInSeconds must be an integer in 1..${MAX_PRESIGN_SECONDS}`);
  const command = new GetObjectCommand({
    Bucket: input.bucket,
    Key: input.key,
    ...(input.filename !== undefined ? { ResponseContentDisposition: contentDisposition(input.filename) } : {}),
    ...(input.contentType !== undefined ? { ResponseContentType: input.contentType } : {}),
  });
  return getSignedUrl(client, command, {
    expiresIn: secs,
    // Belt and braces: even if a middleware added them, these must never be signed.
    unsignableHeaders: new Set(['range', 'if-match', 'if-none-match', 'if-range', 'if-modified-since', 'if-unmodified-since']),
  });
}
