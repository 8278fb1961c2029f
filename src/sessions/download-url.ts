import type { S3Client } from '@aws-sdk/client-s3';
import { type Keyring, signDownloadUrl } from '../edge/signing.ts';

/** What a download URL is made for: one object version, named for the user. */
export interface UrlSubject {
  storageKey: string;
  /** SHA-256 hex of the file: the version the URL binds, and the strong ETag. */
  version: string;
  filename: string;
  contentType: string;
}

/** The seam between sessions and the data plane: haul's edge, or S3 presigned GETs. */
export interface DownloadUrlSigner {
  sign(subject: UrlSubject, expiresAt: Date): Promise<string>;
}

/** URLs served by a haul edge (the same process under `haul serve`, or an edge fleet). */
/** `baseUrl` is read per call: under `haul serve --port 0` it is known only once listening. */
export function edgeUrlSigner(keyring: Keyring, baseUrl: () => string): DownloadUrlSigner {
  return {
    async sign(s, expiresAt) {
      return signDownloadUrl(keyring, {
        baseUrl: baseUrl(),
        objectPath: s.storageKey,
        version: s.version,
        expiresAt,
        filename: s.filename,
        contentType: s.contentType,
      });
    },
  };
}

/**
 * S3 presigned GETs. S3 caps presigned URLs at 7 days; the Range header is never signed, so
 * any range works. S3 binds no version here: the client's If-Match on the ETag guards splicing.
 */
export function s3UrlSigner(client: S3Client, bucket: string): DownloadUrlSigner {
  return {
    async sign(s, expiresAt) {
      const seconds = Math.max(1, Math.min(604_800, Math.round((expiresAt.getTime() - Date.now()) / 1000)));
      // Imported on first use (with the AWS SDK, which a folder store never needs).
      const { presignGetUrl } = await import('../storage/s3-presign.ts');
      return presignGetUrl(client, {
        bucket,
        key: s.storageKey,
        expiresInSeconds: seconds,
        filename: s.filename,
        contentType: s.contentType,
      });
    },
  };
}
