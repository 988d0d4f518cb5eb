/**
 * Progress on stderr, in the form its reader can use. A terminal gets a live display (log-update redraws a few
 * lines in place: per run the stage, its latest activity and elapsed time, and a bar with the ETA for fine-tuning
 * samples or candidates evaluated), with run-level lines kept above it in the scrollback. Anything else — a pipe,
 * a file, a CI log (`CI` set, where a pseudo-terminal's redraws would garble the log), `TERM=dumb` — gets the same
 * plain `[  12.3s] message` lines as ever, one per event, no escape codes. Colour only live and without `NO_COLOR`.
 */
import { createLogUpdate } from 'log-update';
import type { ProgressSink, StepProgress } from './events.ts';

/** The parts of a stream the display needs (process.stderr, or a capture in tests). */
export interface DisplayStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
  rows?: number;
}

export interface Display {
  readonly live: boolean;
  /** A sink for one run; `name` (a target) prefixes its lines and heads its block when several run at once. */
  lane(name?: string): Lane;
  /** Clears the live block (the summary follows in its place); idempotent. */
  close(): void;
}

export interface Lane extends ProgressSink {
  /** The run is over: its block leaves the live display. */
  end(): void;
}

export interface DisplayOptions {
  env?: NodeJS.ProcessEnv;
  /** Milliseconds; performance.now by default (tests pass a clock). */
  now?: () => number;
  /** Redraws per second of the live display (0: only on events, for tests). */
  fps?: number;
}

const truthy = (v: string | undefined) => v !== undefined && v !== '' && v !== '0' && v.toLowerCase() !== 'false';

/** Live only on an interactive terminal that is not a CI log. */
export function wantsLive(stream: DisplayStream, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && !truthy(env.CI) && env.TERM !== 'dumb';
}

/** https://no-color.org: any non-empty NO_COLOR turns colour off. */
export function wantsColor(env: NodeJS.ProcessEnv = process.env): boolean {
  return !env.NO_COLOR;
}

export function createDisplay(stream: DisplayStream, opts: DisplayOptions = {}): Display {
  const env = opts.env ?? process.env;
  const now = opts.now ?? (() => performance.now());
  return wantsLive(stream, env) ? new LiveDisplay(stream, now, wantsColor(env), opts.fps ?? 10) : new LineDisplay(stream, now);
}

const seconds = (ms: number) => (ms / 1000).toFixed(1).padStart(6);

class LineDisplay implements Display {
  readonly live = false;
  private readonly start: number;
  constructor(private readonly stream: DisplayStream, private readonly now: () => number) {
    this.start = now();
  }
  lane(name?: string): Lane {
    const say = (m: string) => void this.stream.write(`[${seconds(this.now() - this.start)}s] ${name ? `[${name}] ` : ''}${m}\n`);
    return { line: say, activity: say, stage: () => {}, step: () => {}, end: () => {} };
  }
  close(): void {}
}

interface LaneState {
  name?: string;
  stage?: { name: string; index: number; count: number; since: number };
  activity?: string;
  /** Since when it is counted, from which count, the latest event's time, and the rate (units per ms) so far. */
  step?: { p: StepProgress; since: number; from: number; at: number; rate?: number };
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
const BAR_WIDTH = 24;

class LiveDisplay implements Display {
  readonly live = true;
  private readonly start: number;
  private readonly lanes: LaneState[] = [];
  private readonly update: ReturnType<typeof createLogUpdate>;
  private readonly timer?: NodeJS.Timeout;
  private closed = false;
  private frameNo = 0;

  constructor(private readonly stream: DisplayStream, private readonly now: () => number, private readonly color: boolean, fps: number) {
    this.start = now();
    this.update = createLogUpdate(stream as NodeJS.WritableStream);
    if (fps > 0) {
      this.timer = setInterval(() => this.render(), 1000 / fps);
      this.timer.unref();
    }
  }

  private paint(code: number, text: string): string {
    return this.color ? `\x1b[${code}m${text}\x1b[0m` : text;
  }

  lane(name?: string): Lane {
    const lane: LaneState = { name };
    this.lanes.push(lane);
    const prefix = name ? `[${name}] ` : '';
    return {
      line: (m) => this.persist(`${prefix}${m}`),
      activity: (m) => {
        lane.activity = m;
        this.render();
      },
      stage: (stageName, index, count) => {
        lane.stage = { name: stageName, index, count, since: this.now() };
        lane.activity = undefined;
        lane.step = undefined;
        this.render();
      },
      step: (p) => this.step(lane, p),
      end: () => {
        const at = this.lanes.indexOf(lane);
        if (at >= 0) this.lanes.splice(at, 1);
        this.render();
      },
    };
  }

  /** Rate over the current step since it began (or since its count last went back), for the ETA. */
  private step(lane: LaneState, p: StepProgress): void {
    const t = this.now();
    const s = lane.step;
    if (!s || s.p.label !== p.label || p.done < s.p.done || s.p.total !== p.total) lane.step = { p, since: t, from: p.done, at: t };
    else {
      Object.assign(s, { p, at: t });
      if (t > s.since && p.done > s.from) s.rate = (p.done - s.from) / (t - s.since);
    }
    // Steps come every batch: redraw on the timer, not on each.
    if (!this.timer) this.render();
  }

  private persist(message: string): void {
    if (this.closed) {
      this.stream.write(`${message}\n`);
      return;
    }
    this.update.persist(`${this.paint(2, `${seconds(this.now() - this.start)}s`)} ${message}`);
    this.render();
  }

  private frame(): string[] {
    const t = this.now();
    // Each line stays within the terminal (less the 2-column indent or spinner) so the block never wraps.
    const width = Math.max(40, (this.stream.columns ?? 80) - 1) - 2;
    const fit = (s: string) => {
      const plain = s.replace(/\x1b\[[0-9;]*m/g, '');
      return plain.length > width ? `${plain.slice(0, width - 1)}…` : s;
    };
    const spin = SPINNER[this.frameNo % SPINNER.length]!;
    const lines: string[] = [];
    for (const lane of this.lanes) {
      const head = `${lane.name ? `[${lane.name}] ` : ''}${lane.stage ? `${lane.stage.name} (${lane.stage.index}/${lane.stage.count})` : 'preparing'}`;
      const since = lane.stage ? ` ${clock(t - lane.stage.since)}` : '';
      // The head names the stage already.
      const own = lane.stage && lane.activity?.startsWith(`${lane.stage.name}: `) ? lane.activity.slice(lane.stage.name.length + 2) : lane.activity;
      const activity = own ? `  ${own}` : '';
      lines.push(`${this.paint(36, spin)} ${fit(`${head}${since}${activity}`)}`);
      if (lane.step) lines.push(`  ${fit(this.stepLine(lane.step, t))}`);
    }
    lines.push(this.paint(2, `  ${clock(t - this.start)} elapsed`));
    return lines;
  }

  private stepLine(s: NonNullable<LaneState['step']>, t: number): string {
    const { label, done, total, unit } = s.p;
    const n = (v: number) => v.toLocaleString('en-US');
    if (total === undefined || !(total > 0)) return `${label}: ${n(done)} ${unit}`;
    const filled = Math.round(BAR_WIDTH * Math.min(1, done / total));
    const bar = this.paint(36, '━'.repeat(filled)) + this.paint(2, '─'.repeat(BAR_WIDTH - filled));
    // The rate is measured over this step so far; until it exists there is no honest ETA.
    const left = s.rate ? (total - done) / s.rate - (t - s.at) : undefined;
    const eta = left === undefined ? 'ETA …' : `ETA ${clock(Math.max(0, left))}`;
    return `${label} ${bar} ${n(done)}/${n(total)} ${unit} · ${eta}`;
  }

  private render(): void {
    if (this.closed) return;
    this.frameNo++;
    this.update(this.frame().join('\n'));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.update.clear();
    this.update.done();
  }
}

/** `0:07`, `12:34`, `1:02:03`. */
export function clock(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  const [h, m, sec] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const two = (v: number) => String(v).padStart(2, '0');
  return h > 0 ? `${h}:${two(m)}:${two(sec)}` : `${m}:${two(sec)}`;
}
