-- CreateEnum
CREATE TYPE "FileStatus" AS ENUM ('PENDING', 'READY', 'FAILED');

-- CreateEnum
CREATE TYPE "SessionStatus" AS ENUM ('ACTIVE', 'PAUSED', 'COMPLETED', 'EXPIRED');

-- CreateTable
CREATE TABLE "File" (
    "id" UUID NOT NULL,
    "name" TEXT NOT NULL,
    "sizeBytes" BIGINT NOT NULL,
    "contentType" TEXT NOT NULL,
    "storageKey" TEXT NOT NULL,
    "checksum" TEXT,
    "chunkSize" INTEGER NOT NULL,
    "chunkCount" INTEGER NOT NULL DEFAULT 0,
    "merkleRoot" TEXT,
    "status" "FileStatus" NOT NULL DEFAULT 'PENDING',
    "failReason" TEXT,
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "File_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "FileChunk" (
    "fileId" UUID NOT NULL,
    "index" INTEGER NOT NULL,
    "startByte" BIGINT NOT NULL,
    "endByte" BIGINT NOT NULL,
    "sha256" TEXT NOT NULL,

    CONSTRAINT "FileChunk_pkey" PRIMARY KEY ("fileId","index")
);

-- CreateTable
CREATE TABLE "DownloadSession" (
    "id" UUID NOT NULL,
    "fileId" UUID NOT NULL,
    "ownerId" TEXT NOT NULL,
    "clientId" TEXT NOT NULL,
    "status" "SessionStatus" NOT NULL DEFAULT 'ACTIVE',
    "totalBytes" BIGINT NOT NULL,
    "bytesConfirmed" BIGINT NOT NULL DEFAULT 0,
    "completedChunks" INTEGER[] DEFAULT ARRAY[]::INTEGER[],
    "transferRateBps" BIGINT NOT NULL DEFAULT 0,
    "urlExpiresAt" TIMESTAMP(3) NOT NULL,
    "expiresAt" TIMESTAMP(3) NOT NULL,
    "completedAt" TIMESTAMP(3),
    "createdAt" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updatedAt" TIMESTAMP(3) NOT NULL,

    CONSTRAINT "DownloadSession_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE UNIQUE INDEX "File_storageKey_key" ON "File"("storageKey");

-- CreateIndex
CREATE INDEX "File_createdAt_id_idx" ON "File"("createdAt", "id");

-- CreateIndex
CREATE INDEX "DownloadSession_ownerId_status_createdAt_idx" ON "DownloadSession"("ownerId", "status", "createdAt");

-- CreateIndex
CREATE INDEX "DownloadSession_status_expiresAt_idx" ON "DownloadSession"("status", "expiresAt");

-- CreateIndex
CREATE INDEX "DownloadSession_fileId_idx" ON "DownloadSession"("fileId");

-- CreateIndex
-- startDownload is idempotent per (user, file, device): at most one live session each.
-- Prisma's schema language has no partial indexes, so this one lives in SQL only.
CREATE UNIQUE INDEX "DownloadSession_live_key" ON "DownloadSession"("ownerId", "fileId", "clientId") WHERE "status" IN ('ACTIVE', 'PAUSED');

-- AddForeignKey
ALTER TABLE "FileChunk" ADD CONSTRAINT "FileChunk_fileId_fkey" FOREIGN KEY ("fileId") REFERENCES "File"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "DownloadSession" ADD CONSTRAINT "DownloadSession_fileId_fkey" FOREIGN KEY ("fileId") REFERENCES "File"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
