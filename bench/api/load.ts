import { Pool } from 'undici';

/** One GraphQL request a virtual client sends: the JSON body, built fresh for each call. */
export type RequestFactory = (worker: number, seq: number) => string;

export interface LoadResult {
  requests: number;
  errors: number;
  /** Requests per second over the measured window (errors included, they are also counted). */
  rps: number;
  p50Ms: number;
  p99Ms: number;
  /** Up to five distinct error descriptions, for the report. */
  errorSamples: string[];
}

export interface LoadOptions {
  origin: string;
  path: string;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  /** `authorization` header value of each virtual client. */
  authFor: (worker: number) => string;
  body: RequestFactory;
  /** Set by a signal handler: stop at the next request. */
  aborted: () => boolean;
  /** Called just before and just after the measured window (e.g. to read CPU counters). */
  onMeasure?: (phase: 'start' | 'end') => void;
}

/** Nearest-rank percentile of an ascending array. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(Math.max(rank, 1), sorted.length) - 1]!;
}

export function median(values: readonly number[]): number {
  const xs = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  if (xs.length === 0) return Number.NaN;
  const mid = xs.length >> 1;
  return xs.length % 2 ? xs[mid]! : (xs[mid - 1]! + xs[mid]!) / 2;
}

/** Why a response is not a success: non-200, unparsable, or a GraphQL `errors` array. */
function failure(status: number, text: string): string | undefined {
  let parsed: { data?: unknown; errors?: Array<{ message?: string; extensions?: { code?: string } }> };
  try {
    parsed = JSON.parse(text);
  } catch {
    return `HTTP ${status}, body is not JSON: ${text.slice(0, 120)}`;
  }
  const e = parsed.errors?.[0];
  if (e) return `HTTP ${status} ${e.extensions?.code ?? 'ERROR'}: ${e.message ?? ''}`;
  if (status !== 200) return `HTTP ${status}`;
  if (parsed.data == null) return `HTTP ${status}, no data`;
  return undefined;
}

/**
 * A closed loop: `concurrency` virtual clients, each sending its next request as soon as the
 * previous answer is read, over one keep-alive connection each. A warm-up runs first and is
 * not counted; then every request that *starts* inside the measured window is counted.
 */
export async function closedLoop(opts: LoadOptions): Promise<LoadResult> {
  const pool = new Pool(opts.origin, {
    connections: opts.concurrency,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    keepAliveMaxTimeout: 60_000,
  });
  const latencies: number[] = [];
  const samples = new Set<string>();
  let errors = 0;
  let seq = 0;
  try {
    const phase = async (ms: number, record: boolean) => {
      const deadline = performance.now() + ms;
      const worker = async (w: number) => {
        const headers = { 'content-type': 'application/json', authorization: opts.authFor(w) };
        while (!opts.aborted()) {
          const start = performance.now();
          if (start >= deadline) return;
          const body = opts.body(w, seq++);
          let problem: string | undefined;
          try {
            const res = await pool.request({ method: 'POST', path: opts.path, headers, body });
            problem = failure(res.statusCode, await res.body.text());
          } catch (e) {
            problem = `transport: ${e instanceof Error ? e.message : String(e)}`;
          }
          const elapsed = performance.now() - start;
          if (!record) {
            // A warm-up failure means the cell is broken; surface it with the measured ones.
            if (problem) {
              errors++;
              if (samples.size < 5) samples.add(`(warm-up) ${problem}`);
            }
            continue;
          }
          latencies.push(elapsed);
          if (problem) {
            errors++;
            if (samples.size < 5) samples.add(problem);
          }
        }
      };
      await Promise.all(Array.from({ length: opts.concurrency }, (_, w) => worker(w)));
    };
    await phase(opts.warmupMs, false);
    opts.onMeasure?.('start');
    const t0 = performance.now();
    await phase(opts.durationMs, true);
    const wall = performance.now() - t0;
    opts.onMeasure?.('end');
    latencies.sort((a, b) => a - b);
    return {
      requests: latencies.length,
      errors,
      rps: latencies.length / (wall / 1000),
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      errorSamples: [...samples],
    };
  } finally {
    await pool.close();
  }
}
