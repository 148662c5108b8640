// Progress on a terminal: one line redrawn in place (bar, loss, accuracy, ETA). Elsewhere (CI, files): a plain line
// every `interval` seconds, so logs stay readable.
/** Where progress goes: a terminal or any writable text sink. */
export interface ProgressSink {
  isTTY?: boolean;
  write(text: string): unknown;
}

export class Progress {
  private lastPrint = 0;
  private readonly tty: boolean;

  constructor(
    private out: ProgressSink = process.stderr,
    private interval = 20,
  ) {
    this.tty = Boolean(out.isTTY);
  }

  update(label: string, done: number, total: number, fields: Record<string, string>, etaSeconds: number): void {
    const now = Date.now() / 1000;
    const text = Object.entries(fields)
      .map(([k, v]) => `${k} ${v}`)
      .join('  ');
    if (this.tty) {
      const width = 24;
      const filled = Math.round((done / total) * width);
      const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
      this.out.write(`\r${label} [${bar}] ${done}/${total}  ${text}  eta ${formatDuration(etaSeconds)}\x1b[K`);
    } else if (now - this.lastPrint >= this.interval || done === total) {
      this.lastPrint = now;
      this.out.write(`${label} ${done}/${total}  ${text}  eta ${formatDuration(etaSeconds)}\n`);
    }
  }

  /** Ends a redrawn line before ordinary output. */
  line(text: string): void {
    this.out.write(this.tty ? `\r\x1b[K${text}\n` : `${text}\n`);
  }
}

export function formatDuration(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = Math.floor(s % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : m ? `${m}m${String(sec).padStart(2, '0')}s` : `${sec}s`;
}
