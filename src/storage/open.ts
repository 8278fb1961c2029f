import type { StorageConfig } from '../config/index.ts';
import type { BlobStore } from './blob-store.ts';
import { FsBlobStore } from './fs.ts';

/**
 * The configured object store (a local folder, or an S3 bucket). The AWS SDK is imported only for
 * S3: loading it cost every process on a folder store ~16 MB of RSS and start-up time.
 */
export async function openBlobStore(storage: StorageConfig): Promise<BlobStore> {
  if (storage.kind === 'fs') return new FsBlobStore(storage.root);
  const [{ S3BlobStore }, { createS3Client }] = await Promise.all([import('./s3.ts'), import('./s3-client.ts')]);
  return new S3BlobStore(createS3Client(storage), storage.bucket);
}
