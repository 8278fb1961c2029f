import { S3Client } from '@aws-sdk/client-s3';
import type { StorageConfig } from '../config/index.ts';

export type S3StorageConfig = Extract<StorageConfig, { kind: 's3' }>;

/**
 * The one S3 client factory. Checksums are computed and validated only when an operation
 * requires them: S3-compatible stores (s3rver, older MinIO, R2…) reject or mangle the flexible
 * checksum headers that SDK 3.7xx+ sends by default (DESIGN §9). Without explicit credentials
 * the SDK's default provider chain applies (environment, profile, instance role).
 */
export function createS3Client(cfg: S3StorageConfig): S3Client {
  return new S3Client({
    region: cfg.region,
    forcePathStyle: cfg.forcePathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
    ...(cfg.credentials
      ? { credentials: { accessKeyId: cfg.credentials.accessKeyId, secretAccessKey: cfg.credentials.secretAccessKey } }
      : {}),
  });
}
