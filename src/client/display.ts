/**
 * Human progress output shared by `haul get` and `haul watch`: a redrawn block of bars on a
 * terminal, a plain line every few seconds elsewhere. Pure formatting plus a tiny renderer.
 */

export interface ProgressLine {
  label: string;
  done: number;
  total: number;
  /** Bytes per second, or null when unknown. */
  rate: number | null;
  status: string;
  /** Extra text after the figures (connections, etc.). */
  note?: string;
}

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${UNITS[u]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--:--';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

export function formatLine(p: ProgressLine, width = 24): string {
  const frac = p.total > 0 ? Math.min(1, p.done / p.total) : p.status === 'COMPLETED' ? 1 : 0;
  const filled = Math.round(frac * width);
  const bar = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
  const pct = `${(frac * 100).toFixed(1).padStart(5)}%`;
  const rate = p.rate && p.rate > 0 ? `${formatBytes(p.rate)}/s` : '-';
  const eta = p.rate && p.rate > 0 && p.total > p.done ? `ETA ${formatDuration((p.total - p.done) / p.rate)}` : '';
  return [p.label, bar, pct, `${formatBytes(p.done)}/${formatBytes(p.total)}`, rate, eta, p.status, p.note ?? '']
    .filter(Boolean)
    .join('  ');
}

/** Tracks a rate from successive (bytes, time) samples: a short exponential moving average. */
export class RateMeter {
  #last?: { bytes: number; at: number };
  #rate: number | null = null;

  sample(bytes: number, at = Date.now()): number | null {
    if (this.#last && at > this.#last.at) {
      const inst = ((bytes - this.#last.bytes) * 1000) / (at - this.#last.at);
      if (inst >= 0) this.#rate = this.#rate === null ? inst : 0.7 * this.#rate + 0.3 * inst;
    }
    this.#last = { bytes, at };
    return this.#rate;
  }
}

/**
 * Renders lines to a stream: redrawn in place on a TTY, else one plain line per item at most
 * every `intervalMs` (and always on a status change).
 */
export class ProgressRenderer {
  #drawn = 0;
  #lastPlain = new Map<string, { at: number; status: string }>();

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly opts: { intervalMs?: number } = {},
  ) {}

  get tty(): boolean {
    return Boolean(this.out.isTTY);
  }

  render(lines: ProgressLine[]): void {
    if (this.tty) {
      const text = lines.map((l) => `\x1b[2K${formatLine(l)}`).join('\n');
      this.out.write(`${this.#drawn > 0 ? `\x1b[${this.#drawn}F` : ''}${text}\n`);
      this.#drawn = lines.length;
      return;
    }
    const now = Date.now();
    for (const l of lines) {
      const prev = this.#lastPlain.get(l.label);
      if (prev && prev.status === l.status && now - prev.at < (this.opts.intervalMs ?? 3000)) continue;
      this.#lastPlain.set(l.label, { at: now, status: l.status });
      this.out.write(`${formatLine(l)}\n`);
    }
  }
}
