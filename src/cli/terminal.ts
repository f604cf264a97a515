/**
 * Where the `berth` commands write, and how: results on standard output, messages on standard
 * error, colour only on a terminal (and never with NO_COLOR), and live progress that updates in
 * place on a terminal (log-update) but prints plain lines, one per change, into a pipe or file.
 *
 * A reader that goes away (`berth logs -f | head`) closes the pipe under us: client commands
 * then exit quietly (status 0) instead of dying on EPIPE with a stack trace.
 */
import { createLogUpdate } from 'log-update';

/** The output streams a command writes to (process.stdout / process.stderr by default). */
export interface Terminal {
  /** Writes to standard output (results). */
  out(text: string): void;
  /** Writes to standard error (progress notes, warnings, errors). */
  err(text: string): void;
  /** Whether standard output is a terminal (live progress, colour). */
  readonly isTTY: boolean;
  /** Colours for standard output (identity functions when it is not a terminal). */
  readonly style: Style;
  /** Colours for standard error. */
  readonly errStyle: Style;
}

/** Text styles; each is the identity when colour is off. */
export interface Style {
  bold(s: string): string;
  dim(s: string): string;
  green(s: string): string;
  red(s: string): string;
  yellow(s: string): string;
}

const PLAIN: Style = { bold: (s) => s, dim: (s) => s, green: (s) => s, red: (s) => s, yellow: (s) => s };

function sgr(open: number, close: number) {
  return (s: string) => `\u001b[${open}m${s}\u001b[${close}m`;
}

const ANSI: Style = { bold: sgr(1, 22), dim: sgr(2, 22), green: sgr(32, 39), red: sgr(31, 39), yellow: sgr(33, 39) };

/** Whether to colour a stream: a terminal, NO_COLOR unset, TERM not `dumb`. */
function wantsColor(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv): boolean {
  return Boolean(stream.isTTY) && env.NO_COLOR === undefined && env.TERM !== 'dumb';
}

/** The process's terminal. */
export function processTerminal(env: NodeJS.ProcessEnv = process.env): Terminal {
  return {
    out: (text) => void process.stdout.write(text),
    err: (text) => void process.stderr.write(text),
    isTTY: Boolean(process.stdout.isTTY),
    style: wantsColor(process.stdout, env) ? ANSI : PLAIN,
    errStyle: wantsColor(process.stderr, env) ? ANSI : PLAIN,
  };
}

let guarded = false;
let exitOnClose = true;

/**
 * Makes a closed standard output end the process quietly: `exit` true (client commands, help)
 * exits with status 0 on EPIPE; false (`berth up`, `berth agent`) keeps running and drops the
 * output. A closed standard error is always ignored. The handlers are installed once; a later
 * call changes only the mode.
 */
export function guardClosedOutput({ exit }: { exit: boolean }): void {
  exitOnClose = exit;
  if (guarded) return;
  guarded = true;
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (exitOnClose && (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED')) process.exit(0);
  });
  process.stderr.on('error', () => undefined);
}

/**
 * A block of status lines that describes something in progress (a deployment, a stop). On a
 * terminal it is redrawn in place; elsewhere each line is printed when it changes, so a log
 * file gets one line per change. `note` prints a permanent line above the block.
 */
export class LiveBlock {
  private readonly render: ReturnType<typeof createLogUpdate> | undefined;
  private printed: string[] = [];
  private current: string[] = [];

  constructor(private readonly term: Terminal, live = term.isTTY) {
    this.render = live ? createLogUpdate(process.stdout) : undefined;
  }

  /** Whether the block redraws in place. */
  get live(): boolean {
    return this.render !== undefined;
  }

  /** Shows `lines` as the block's state. */
  update(lines: string[]): void {
    this.current = lines;
    if (this.render) {
      this.render(lines.join('\n'));
      return;
    }
    lines.forEach((line, i) => {
      if (this.printed[i] !== line) this.term.out(`${line}\n`);
    });
    this.printed = [...lines];
  }

  /** Prints a permanent line above the block (an event, a warning). */
  note(line: string): void {
    if (this.render) {
      this.render.clear();
      this.term.out(`${line}\n`);
      this.render(this.current.join('\n'));
    } else {
      this.term.out(`${line}\n`);
    }
  }

  /** Leaves the block as it was last drawn (`final` replaces it first) and ends live updates. */
  done(final?: string[]): void {
    if (final) this.update(final);
    this.render?.done();
  }
}
