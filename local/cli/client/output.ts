/** Small pieces of the commands' input and output: argv fixes, a one-line status display. */

/**
 * `node:util` parseArgs refuses `--seed -1` (a value that starts with a dash is "ambiguous");
 * rewrite a negative number after one of `names` as `--name=-1`, which it takes.
 */
export function joinNegativeNumbers(argv: readonly string[], names: readonly string[]): string[] {
  const out: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    const next = argv[index + 1];
    if (
      names.includes(arg.replace(/^--/, '')) &&
      arg.startsWith('--') &&
      next !== undefined &&
      /^-\d+(\.\d+)?$/.test(next)
    ) {
      out.push(`${arg}=${next}`);
      index++;
    } else {
      out.push(arg);
    }
  }
  return out;
}

/** A number option as the request schema should see it: `12` → 12, `abc` → `abc` (refused there). */
export function numberish(value: string): number | string {
  const trimmed = value.trim();
  if (trimmed === '') return value;
  const number = Number(trimmed);
  return Number.isNaN(number) ? value : number;
}

const SPINNER = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

/**
 * One line of progress on stderr. On a terminal it is redrawn in place with a spinner; elsewhere
 * (a pipe, a CI log) a line is written only when the text changes.
 */
export class StatusLine {
  readonly #stream: NodeJS.WriteStream;
  readonly #tty: boolean;
  #frame = 0;
  #lastKey: string | undefined;
  #lastText: string | undefined;
  #drawn = false;

  constructor(stream: NodeJS.WriteStream = process.stderr) {
    this.#stream = stream;
    this.#tty = stream.isTTY === true;
  }

  /** Shows `text`; `key` (default `text`) decides, off a terminal, whether it is new. */
  update(text: string, key: string = text): void {
    if (this.#tty) {
      const frame = SPINNER[this.#frame++ % SPINNER.length];
      this.#stream.write(`\r\x1b[2K${frame} ${text}`);
      this.#drawn = true;
      return;
    }
    if (key !== this.#lastKey) this.#stream.write(`${text}\n`);
    this.#lastKey = key;
    this.#lastText = text;
  }

  /** Ends the line (on a terminal, the last text stays visible). */
  done(text?: string): void {
    if (this.#tty) {
      if (text !== undefined) this.#stream.write(`\r\x1b[2K${text}\n`);
      else if (this.#drawn) this.#stream.write('\n');
    } else if (text !== undefined && text !== this.#lastText) {
      this.#stream.write(`${text}\n`);
    }
    this.#drawn = false;
    this.#lastKey = undefined;
    this.#lastText = undefined;
  }
}

/** `12.3 s`, `4 min 05 s`. */
export function formatElapsed(ms: number): string {
  const seconds = ms / 1000;
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const minutes = Math.floor(seconds / 60);
  return `${minutes} min ${String(Math.floor(seconds % 60)).padStart(2, '0')} s`;
}

/** Rows as columns separated by two spaces; the last column is not padded. */
export function formatTable(rows: readonly (readonly string[])[]): string[] {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, index) => {
      widths[index] = Math.max(widths[index] ?? 0, cell.length);
    });
  }
  return rows.map((row) =>
    row
      .map((cell, index) => (index === row.length - 1 ? cell : cell.padEnd(widths[index] ?? 0)))
      .join('  ')
      .trimEnd(),
  );
}

/** The first `max` code points of `text` on one line, with `…` when cut. */
export function truncate(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  const points = [...flat];
  return points.length <= max ? flat : `${points.slice(0, max - 1).join('')}…`;
}
