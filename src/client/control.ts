import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import { HaulClientError } from './errors.ts';
import {
  CompleteDownloadDocument,
  DownloadManifestDocument,
  FileStatusDocument,
  PauseDownloadDocument,
  RefreshDownloadUrlDocument,
  ReportProgressDocument,
  ResumeDownloadDocument,
  type SessionFieldsFragment,
  SessionOverviewDocument,
  StartDownloadDocument,
} from './generated/graphql.ts';
import { ApiError, graphqlRequest } from './request.ts';
import { backoffDelay, DEFAULT_RETRY, type RetryPolicy, sleep } from './retry.ts';

export type SessionInfo = SessionFieldsFragment;

export interface Ticket {
  session: SessionInfo;
  downloadUrl: string;
  urlExpiresAt: string;
}

export interface ControlOptions {
  api: string;
  token: string;
  /** Per call, ms. Default 15,000. */
  timeoutMs?: number;
  retry?: RetryPolicy;
  /** Called before each retry of a call the API could not serve (UNAVAILABLE, INTERNAL, FILE_NOT_READY). */
  onRetry?(op: string, error: HaulClientError, delayMs: number): void;
}

/**
 * The control plane as the engine uses it: typed GraphQL operations over `graphqlRequest`
 * (request.ts), each bounded by a timeout, with API errors turned into `HaulClientError`s that
 * keep the server's code. `call` retries what the API says is retryable; `once` does not.
 */
export class ControlPlane {
  constructor(private readonly opts: ControlOptions) {}

  /** One try. */
  async once<T, V>(doc: TypedDocumentNode<T, V>, variables: V, signal?: AbortSignal): Promise<T> {
    const timeout = AbortSignal.timeout(this.opts.timeoutMs ?? 15_000);
    try {
      return await graphqlRequest(this.opts.api, this.opts.token, doc, variables, {
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
    } catch (e) {
      if (signal?.aborted) throw signal.reason;
      if (e instanceof ApiError) throw new HaulClientError(e.code, e.message, { status: e.status, cause: e });
      const timedOut = timeout.aborted;
      throw new HaulClientError('UNAVAILABLE', timedOut ? `${this.opts.api} did not answer in time` : String(e), { cause: e });
    }
  }

  /** Retries with backoff while the API answers a retryable code. */
  async call<T, V>(op: string, doc: TypedDocumentNode<T, V>, variables: V, signal?: AbortSignal): Promise<T> {
    const policy = this.opts.retry ?? DEFAULT_RETRY;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.once(doc, variables, signal);
      } catch (e) {
        if (!(e instanceof HaulClientError)) throw e;
        e.attempt = attempt;
        if (!e.retryable || attempt >= policy.maxAttempts) throw e;
        const delay = backoffDelay(attempt, policy, e.retryAfterMs);
        this.opts.onRetry?.(op, e, delay);
        await sleep(delay, signal);
      }
    }
  }

  async start(fileId: string, clientId: string, signal?: AbortSignal): Promise<Ticket> {
    return (await this.call('startDownload', StartDownloadDocument, { fileId, clientId }, signal)).startDownload;
  }

  async resume(sessionId: string, signal?: AbortSignal): Promise<Ticket> {
    return (await this.call('resumeDownload', ResumeDownloadDocument, { sessionId }, signal)).resumeDownload;
  }

  async refresh(sessionId: string, signal?: AbortSignal): Promise<Ticket> {
    return (await this.call('refreshDownloadUrl', RefreshDownloadUrlDocument, { sessionId }, signal)).refreshDownloadUrl;
  }

  async session(id: string, signal?: AbortSignal) {
    return (await this.call('downloadSession', SessionOverviewDocument, { id }, signal)).downloadSession;
  }

  /** Whether `id` names a file (null when it does not). */
  async file(id: string, signal?: AbortSignal) {
    return (await this.call('file', FileStatusDocument, { id }, signal)).file;
  }

  async manifestPage(id: string, after: string | null, signal?: AbortSignal) {
    return (await this.call('file.chunks', DownloadManifestDocument, { id, first: 1000, after }, signal)).file;
  }

  async report(sessionId: string, completedChunks: number[], transferRateBps: number): Promise<SessionInfo> {
    return (await this.once(ReportProgressDocument, { sessionId, completedChunks, transferRateBps })).reportProgress;
  }

  async pause(sessionId: string, completedChunks: number[], transferRateBps: number): Promise<SessionInfo> {
    return (await this.once(PauseDownloadDocument, { sessionId, completedChunks, transferRateBps })).pauseDownload;
  }

  async complete(sessionId: string, checksum: string, signal?: AbortSignal): Promise<SessionInfo> {
    return (await this.call('completeDownload', CompleteDownloadDocument, { sessionId, checksum }, signal)).completeDownload;
  }
}
