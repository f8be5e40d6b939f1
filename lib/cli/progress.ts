// A progress line on stderr for slow operations: a spinner, what is running, bytes processed
// (of the total when known) and the elapsed time. Only when stderr is a terminal and neither
// --json nor --quiet is given; never on stdout. It appears once the operation has taken
// P11BRIDGE_PROGRESS_DELAY ms (default 300), so fast commands print nothing, and the line is
// erased when the operation ends, before the command writes its result.

const FRAMES = ['-', '\\', '|', '/'];
const DEFAULT_DELAY_MS = 300;
const REDRAW_MS = 100;

export interface ProgressOptions {
  json?: boolean;
  quiet?: boolean;
}

/** Whether a command with these options shows progress at all. */
export function progressEnabled(o: ProgressOptions, stream: NodeJS.WriteStream = process.stderr): boolean {
  return stream.isTTY === true && !o.json && !o.quiet;
}

function delayMs(): number {
  const v = process.env.P11BRIDGE_PROGRESS_DELAY;
  return v !== undefined && /^\d+$/.test(v) ? Number(v) : DEFAULT_DELAY_MS;
}

/** 1536 → '1.5 KiB'. */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

export class Progress {
  private bytes = 0;
  private frame = 0;
  private drawn = false;
  private readonly started = Date.now();
  private delayTimer: NodeJS.Timeout | undefined;
  private redrawTimer: NodeJS.Timeout | undefined;

  private constructor(
    private label: string,
    private readonly total: number | undefined,
    private readonly stream: NodeJS.WriteStream | undefined,
  ) {
    if (!stream) return;
    this.delayTimer = setTimeout(() => {
      this.draw();
      this.redrawTimer = setInterval(() => this.draw(), REDRAW_MS);
      this.redrawTimer.unref();
    }, delayMs());
    // The indicator never keeps the process alive on its own.
    this.delayTimer.unref();
  }

  /** Starts an indicator; a silent one when progress is off for these options. */
  static start(label: string, o: ProgressOptions, total?: number): Progress {
    const stream = process.stderr;
    return new Progress(label, total, progressEnabled(o, stream) ? stream : undefined);
  }

  /** Counts processed bytes (shown when any were counted). */
  add(n: number): void {
    this.bytes += n;
  }

  /** Changes what the line says is running. */
  setLabel(label: string): void {
    this.label = label;
  }

  /** Whether the line has been shown (for tests of the module itself). */
  get shown(): boolean {
    return this.drawn;
  }

  private draw(): void {
    if (!this.stream) return;
    const secs = ((Date.now() - this.started) / 1000).toFixed(1);
    let amount = '';
    if (this.bytes > 0 || this.total !== undefined) {
      amount = ` ${formatBytes(this.bytes)}`;
      if (this.total !== undefined && this.total > 0) amount += ` of ${formatBytes(this.total)} (${Math.min(100, Math.floor((this.bytes * 100) / this.total))}%)`;
    }
    const line = `${FRAMES[this.frame++ % FRAMES.length]} ${this.label}${amount} ${secs}s`;
    // \r and erase-to-end-of-line: the line is redrawn in place.
    this.stream.write(`\r${line}\x1b[K`);
    this.drawn = true;
  }

  /** Stops the indicator and erases its line. Safe to call twice. */
  stop(): void {
    if (this.delayTimer) clearTimeout(this.delayTimer);
    if (this.redrawTimer) clearInterval(this.redrawTimer);
    this.delayTimer = this.redrawTimer = undefined;
    if (this.drawn && this.stream) this.stream.write('\r\x1b[K');
    this.drawn = false;
  }

  /** An async generator stage (for stream.pipeline or updateAll) that counts the bytes going through. */
  counter(): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
    return async function* (this: Progress, source: AsyncIterable<Buffer>) {
      for await (const chunk of source) {
        const b = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as Uint8Array);
        this.add(b.length);
        yield b;
      }
    }.bind(this);
  }
}

/** Runs `fn` with an indicator that stops (and is erased) when it settles. */
export async function withProgress<T>(label: string, o: ProgressOptions, fn: (p: Progress) => Promise<T>, total?: number): Promise<T> {
  const p = Progress.start(label, o, total);
  try {
    return await fn(p);
  } finally {
    p.stop();
  }
}
