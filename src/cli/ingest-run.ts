import { createReadStream } from 'node:fs';
import { Transform } from 'node:stream';
import { IngestFileDocument, IngestStatusDocument } from '../client/generated/graphql.ts';
import { ApiError, graphqlRequest } from '../client/request.ts';
import type { Config } from '../config/index.ts';
import { openBlobStore } from '../storage/open.ts';
import { EXIT } from './args.ts';

export interface IngestRun {
  path: string;
  size: number;
  name: string;
  contentType: string;
  chunkSize: number;
  key: string;
  checksum?: string | undefined;
  json: boolean;
  api: string;
  token: string;
  config: Config;
}

/** One status line on a terminal (rewritten in place), nothing otherwise. */
function statusLine(enabled: boolean) {
  let last = '';
  return {
    show(text: string) {
      if (!enabled || text === last) return;
      last = text;
      process.stderr.write(`\r\x1b[2K${text}`);
    },
    done() {
      if (enabled && last) process.stderr.write('\r\x1b[2K');
      last = '';
    },
  };
}

/** `haul ingest` after its arguments are checked: upload, ingestFile, wait, report. */
export async function runIngest(o: IngestRun): Promise<number> {
  const { name, key, json, api, token } = o;
  const line = statusLine(!json && process.stderr.isTTY === true);

  // 1. The bytes go to the store directly (never through the API), atomically under `key`.
  const store = await openBlobStore(o.config.storage);
  let sent = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      sent += chunk.length;
      line.show(`uploading ${name}: ${o.size ? Math.floor((sent / o.size) * 100) : 100}%`);
      cb(null, chunk);
    },
  });
  await store.put(key, createReadStream(o.path, { highWaterMark: 1024 * 1024 }).pipe(counter));
  line.done();

  // 2. The service records the file and queues its ingest; 3. wait for the verdict.
  try {
    const { ingestFile } = await graphqlRequest(api, token, IngestFileDocument, {
      storageKey: key,
      name,
      contentType: o.contentType,
      chunkSize: o.chunkSize,
      checksum: o.checksum ?? null,
    });
    let file = ingestFile;
    for (let delay = 100; file.status === 'PENDING'; delay = Math.min(delay * 2, 1000)) {
      line.show(`ingesting ${name}: ${Math.floor(file.ingestProgress ?? 0)}%`);
      await new Promise((r) => setTimeout(r, delay));
      const next = (await graphqlRequest(api, token, IngestStatusDocument, { id: file.id })).file;
      if (!next) throw new ApiError('NOT_FOUND', `file ${file.id} disappeared during ingest`);
      file = next;
    }
    line.done();
    const summaryObject = {
      id: file.id,
      name: file.name,
      storageKey: key,
      status: file.status,
      size: file.sizeBytes,
      checksum: file.checksum,
      merkleRoot: file.merkleRoot,
      chunkSize: file.chunkSize,
      chunkCount: file.chunkCount,
      ...(file.status === 'FAILED' ? { failReason: file.failReason } : {}),
    };
    if (file.status === 'FAILED') {
      console.error(`haul ingest: ${name} FAILED: ${file.failReason ?? 'no reason given'}`);
      if (json) console.log(JSON.stringify(summaryObject));
      return EXIT.FAILURE;
    }
    if (json) console.log(JSON.stringify(summaryObject));
    else {
      console.error(
        `${name}: ${file.sizeBytes} bytes, ${file.chunkCount} chunks of ${file.chunkSize}, sha256 ${file.checksum}, merkle root ${file.merkleRoot}`,
      );
      console.log(file.id);
    }
    return EXIT.OK;
  } catch (e) {
    line.done();
    if (e instanceof ApiError) {
      const hint = e.code === 'UNAVAILABLE' ? ' (is `haul serve` running? see --api)' : '';
      console.error(`haul ingest: ${e.code}: ${e.message}${hint}`);
      return e.code === 'BAD_USER_INPUT' ? EXIT.USAGE : EXIT.FAILURE;
    }
    throw e;
  }
}
