import type { Logger } from 'pino';
import type { Viewer } from '../auth/jwt.ts';
import type { FileRepository } from '../files/repository.ts';
import type { SessionService } from '../sessions/service.ts';

/** Singletons built once at start-up and shared by every request. */
export interface Services {
  sessions: SessionService;
  files: FileRepository;
}

/** One per request (HTTP) or per operation (WebSocket); the viewer is already authenticated. */
export interface Context extends Services {
  viewer: Viewer;
  log: Logger;
  requestId: string;
}
