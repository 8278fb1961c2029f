import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { contentDisposition } from './content-disposition.ts';

export { contentDisposition };

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
