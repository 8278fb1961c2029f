import { type Client, createClient } from 'graphql-ws';
import WebSocket from 'ws';

export interface Collected<T> {
  events: T[];
  errors: unknown[];
  done: boolean;
  /** Resolves once `n` events have arrived (or rejects after `ms`). */
  waitFor(n: number, ms?: number): Promise<T[]>;
  close(): void;
}

function collector<T>(close: () => void): Collected<T> {
  const waiters: Array<() => void> = [];
  const c: Collected<T> = {
    events: [],
    errors: [],
    done: false,
    waitFor(n, ms = 10_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (c.events.length >= n) resolve(c.events.slice(0, n));
          else if (c.done || c.errors.length)
            reject(new Error(`ended after ${c.events.length} events: ${JSON.stringify(c.errors)}`));
          else return false;
          return true;
        };
        if (check()) return;
        const t = setTimeout(() => reject(new Error(`timed out with ${c.events.length}/${n} events`)), ms);
        waiters.push(() => {
          if (check()) clearTimeout(t);
        });
      });
    },
    close,
  };
  const notify = () => {
    for (const w of [...waiters]) w();
  };
  (c as unknown as { notify: () => void }).notify = notify;
  return c;
}

const notify = (c: Collected<unknown>) => (c as unknown as { notify: () => void }).notify();

/** Subscribes over graphql-ws with the token in connectionParams. */
export function subscribeWs<T>(url: string, token: string, query: string, variables: Record<string, unknown> = {}) {
  const client: Client = createClient({
    url: `${url.replace(/^http/, 'ws')}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    retryAttempts: 0,
  });
  const c = collector<T>(() => void client.dispose());
  client.subscribe<T>(
    { query, variables },
    {
      next: (r) => {
        if (r.errors) c.errors.push(...r.errors);
        else c.events.push(r.data as T);
        notify(c);
      },
      error: (e) => {
        c.errors.push(e);
        notify(c);
      },
      complete: () => {
        c.done = true;
        notify(c);
      },
    },
  );
  return c;
}

/** Subscribes over SSE (graphql-sse distinct-connections mode, which yoga speaks on /graphql). */
export function subscribeSse<T>(url: string, token: string, query: string, variables: Record<string, unknown> = {}) {
  const abort = new AbortController();
  const c = collector<T>(() => abort.abort());
  (async () => {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query, variables }),
      signal: abort.signal,
    });
    if (!res.ok || !res.body) {
      c.errors.push({ status: res.status, body: await res.text() });
      notify(c);
      return;
    }
    let buf = '';
    for await (const piece of res.body as unknown as AsyncIterable<Uint8Array>) {
      buf += Buffer.from(piece).toString('utf8');
      let i = buf.indexOf('\n\n');
      while (i >= 0) {
        const block = buf.slice(0, i);
        buf = buf.slice(i + 2);
        const event = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (event === 'next' && data) {
          const r = JSON.parse(data) as { data?: T; errors?: unknown[] };
          if (r.errors) c.errors.push(...r.errors);
          else c.events.push(r.data as T);
        } else if (event === 'complete') c.done = true;
        notify(c);
        i = buf.indexOf('\n\n');
      }
    }
    c.done = true;
    notify(c);
  })().catch((e) => {
    if (!abort.signal.aborted) {
      c.errors.push(e instanceof Error ? { message: e.message, stack: e.stack } : e);
      notify(c);
    }
  });
  return c;
}

export const PROGRESS_SUBSCRIPTION = `subscription($id: ID!) {
  downloadProgress(sessionId: $id) { kind seq session { id status bytesConfirmed completedChunks } }
}`;

export const MY_EVENTS_SUBSCRIPTION = `subscription {
  myDownloadEvents { kind seq session { id clientId status bytesConfirmed } }
}`;

export interface ProgressEvent {
  downloadProgress: {
    kind: string;
    seq: number;
    session: { id: string; status: string; bytesConfirmed: number; completedChunks: number[] };
  };
}
export interface MyEvent {
  myDownloadEvents: {
    kind: string;
    seq: number;
    session: { id: string; clientId: string; status: string; bytesConfirmed: number };
  };
}
