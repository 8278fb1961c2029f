/**
 * haul's client SDK: the download engine behind `haul get`, for other Node programs.
 *
 *   import { download } from 'haul/src/client/index.ts';
 *   const r = await download({ api, token, fileId, out: 'big.iso', onProgress: (p) => … });
 *
 * See docs/client.md for the options, events, error codes and how resume works.
 */
import { downloadFile } from './engine.ts';
import type { DownloadOptions, DownloadResult } from './types.ts';

/** Downloads a file of the service (by `fileId`, or an existing `sessionId`) to `out`, verified. */
export function download(opts: DownloadOptions): Promise<DownloadResult> {
  return downloadFile(opts);
}

export { ControlPlane } from './control.ts';
export { type ClientErrorCode, ClientErrorCodes, HaulClientError, isHaulClientError } from './errors.ts';
export { readJournal } from './journal.ts';
export { fetchManifest, type Manifest } from './manifest.ts';
export type { RetryPolicy } from './retry.ts';
export type { DownloadEvent, DownloadOptions, DownloadProgress, DownloadResult, UrlDownloadOptions } from './types.ts';
export { downloadUrl, probeUrl, type UrlInfo } from './url-download.ts';
export { verifyChunk, verifyChunkDigest, verifyManifest } from './verify.ts';
