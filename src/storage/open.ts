import type { StorageConfig } from '../config/index.ts';
import type { BlobStore } from './blob-store.ts';
import { FsBlobStore } from './fs.ts';
import { S3BlobStore } from './s3.ts';
import { createS3Client } from './s3-client.ts';

/** The configured object store (a local folder, or an S3 bucket). */
export function openBlobStore(storage: StorageConfig): BlobStore {
  if (storage.kind === 'fs') return new FsBlobStore(storage.root);
  return new S3BlobStore(createS3Client(storage), storage.bucket);
}
