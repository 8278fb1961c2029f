import type { DownloadSession, File } from '../generated/prisma/client.ts';

export type SessionStatus = 'ACTIVE' | 'PAUSED' | 'COMPLETED' | 'EXPIRED';
export type FileStatus = 'PENDING' | 'READY' | 'FAILED';

/** A file as the API shows it: byte counts as JS numbers (safe up to 2^53, DESIGN §3). */
export interface FileView {
  id: string;
  name: string;
  sizeBytes: number;
  contentType: string;
  storageKey: string;
  checksum: string | null;
  chunkSize: number;
  chunkCount: number;
  merkleRoot: string | null;
  status: FileStatus;
  failReason: string | null;
  createdAt: Date;
}

export interface SessionView {
  id: string;
  fileId: string;
  ownerId: string;
  clientId: string;
  status: SessionStatus;
  totalBytes: number;
  bytesConfirmed: number;
  completedChunks: number[];
  transferRateBps: number;
  urlExpiresAt: Date;
  expiresAt: Date;
  completedAt: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A session with a download URL freshly signed for it (start, resume, refresh). */
export interface SessionWithUrl {
  session: SessionView;
  file: FileView;
  downloadUrl: string;
}

export const toFileView = (f: File): FileView => ({
  id: f.id,
  name: f.name,
  sizeBytes: Number(f.sizeBytes),
  contentType: f.contentType,
  storageKey: f.storageKey,
  checksum: f.checksum,
  chunkSize: f.chunkSize,
  chunkCount: f.chunkCount,
  merkleRoot: f.merkleRoot,
  status: f.status,
  failReason: f.failReason,
  createdAt: f.createdAt,
});

export const toSessionView = (s: DownloadSession): SessionView => ({
  id: s.id,
  fileId: s.fileId,
  ownerId: s.ownerId,
  clientId: s.clientId,
  status: s.status,
  totalBytes: Number(s.totalBytes),
  bytesConfirmed: Number(s.bytesConfirmed),
  completedChunks: s.completedChunks,
  transferRateBps: Number(s.transferRateBps),
  urlExpiresAt: s.urlExpiresAt,
  expiresAt: s.expiresAt,
  completedAt: s.completedAt,
  createdAt: s.createdAt,
  updatedAt: s.updatedAt,
});

/** Percentage with two decimals; an empty file is 100% once completed, else 0. */
export function percentage(s: Pick<SessionView, 'bytesConfirmed' | 'totalBytes' | 'status'>): number {
  if (s.totalBytes === 0) return s.status === 'COMPLETED' ? 100 : 0;
  return Math.floor((s.bytesConfirmed / s.totalBytes) * 10_000) / 100;
}
