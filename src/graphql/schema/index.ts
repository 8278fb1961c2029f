import { builder } from '../builder.ts';
import './files.ts';
import './ingest.ts';
import './manifest.ts';
import './sessions.ts';
import './subscriptions.ts';

/** The whole schema: importing the domain files registers their types on the builder. */
export const schema = builder.toSchema({ sortSchema: true });
