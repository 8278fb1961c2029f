import type { Logger } from 'pino';
import type { Viewer } from '../auth/jwt.ts';
import type { IngestService } from '../files/ingest-service.ts';
import type { FileRepository } from '../files/repository.ts';
import type { SessionEvents } from '../realtime/events.ts';
import type { SessionService } from '../sessions/service.ts';

/** Singletons built once at start-up and shared by every request. */
export interface Services {
  sessions: SessionService;
  files: FileRepository;
  events: SessionEvents;
  /** ingestFile and ingest progress; absent where no job queue is configured. */
  ingest?: IngestService | undefined;
}

/** One per request (HTTP) or per operation (WebSocket); the viewer is already authenticated. */
export interface Context extends Services {
  viewer: Viewer;
  log: Logger;
  requestId: string;
}
