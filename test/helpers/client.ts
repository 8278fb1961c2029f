import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ingestObject } from '../../src/files/ingest.ts';
import { type FaultProxy, freshFaults, startFaultProxy } from './fault-proxy.ts';
import { startTestServer, type TestServer } from './server.ts';

/**
 * A real haul (API + edge, `role: 'serve'`) whose signed URLs point at a fault proxy in front of
 * its own edge, plus a temp folder for outputs. `api` is the API itself; `proxiedApi` goes through
 * the proxy too (for "API down" faults).
 */
export interface ClientRig extends AsyncDisposable {
  srv: TestServer;
  proxy: FaultProxy;
  token: string;
  api: string;
  proxiedApi: string;
  dir: string;
  out(name: string): string;
  /** Stores and ingests `bytes`; returns the file id and its storage key. */
  add(name: string, bytes: Buffer, chunkSize?: number): Promise<{ fileId: string; storageKey: string }>;
  /** Writes new bytes under an existing key and ingests them again (same file id, new version). */
  replace(storageKey: string, name: string, bytes: Buffer, chunkSize?: number): Promise<void>;
  session(id: string): Promise<{ status: string; bytesConfirmed: bigint; completedChunks: number[]; totalBytes: bigint }>;
  /** Back to no faults, counters zeroed. */
  heal(): void;
}

export async function startClientRig(): Promise<ClientRig> {
  const proxy = await startFaultProxy();
  const srv = await startTestServer({ role: 'serve', env: { HAUL_EDGE_URL: proxy.url } });
  proxy.setTarget(srv.url);
  const dir = await mkdtemp(join(tmpdir(), 'haul-client-'));
  const token = await srv.token('alice');
  const prisma = srv.runtime.db.prisma;
  return {
    srv,
    proxy,
    token,
    api: srv.url,
    proxiedApi: proxy.url,
    dir,
    out: (name) => join(dir, name),
    async add(name, bytes, chunkSize = 64 * 1024) {
      const fileId = await srv.addFile(name, bytes, { chunkSize });
      const { storageKey } = await prisma.file.findUniqueOrThrow({ where: { id: fileId } });
      return { fileId, storageKey };
    },
    async replace(storageKey, name, bytes, chunkSize = 64 * 1024) {
      await srv.runtime.store.put(storageKey, bytes);
      await ingestObject(
        { prisma, store: srv.runtime.store },
        { storageKey, name, contentType: 'application/octet-stream', chunkSize },
        { hashing: 'inline' },
      );
    },
    async session(id) {
      return prisma.downloadSession.findUniqueOrThrow({ where: { id } });
    },
    heal() {
      Object.assign(proxy.faults, freshFaults());
      proxy.resetStats();
    },
    async [Symbol.asyncDispose]() {
      await proxy.close();
      await srv[Symbol.asyncDispose]();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
