/**
 * CSV text (RFC 4180) for training logs and metric tables, like Keras'
 * `CSVLogger`. Runtime-neutral: it produces strings; where they go (a file in
 * Deno, a download or a `<pre>` in the browser) is the caller's choice.
 *
 * @module
 */

/** A value a CSV cell can hold; `undefined` and `null` become empty cells. */
export type CsvValue = number | string | boolean | null | undefined;

/** One CSV row: values by column name. */
export type CsvRow = Record<string, CsvValue>;

/** Quotes a field when it holds the separator, a quote or a line break (RFC 4180 §2.6-2.7). */
function field(v: CsvValue, separator: string): string {
  const s = v === undefined || v === null ? "" : String(v);
  if (s.includes(separator) || s.includes('"') || s.includes("\n") || s.includes("\r")) {
    return `"${s.replaceAll('"', '""')}"`;
  }
  return s;
}

function line(values: CsvValue[], separator: string): string {
  return values.map((v) => field(v, separator)).join(separator) + "\n";
}

/** Column names in first-seen order over all rows. */
function columnsOf(rows: CsvRow[]): string[] {
  const seen = new Set<string>();
  for (const r of rows) for (const k of Object.keys(r)) seen.add(k);
  return [...seen];
}

/**
 * Formats rows as CSV with a header line. Columns default to every key seen,
 * in first-seen order; a row lacking a column gets an empty cell.
 *
 * @example
 * ```ts
 * toCsv([{ epoch: 1, loss: 0.25 }, { epoch: 2, loss: 0.125 }]);
 * // "epoch,loss\n1,0.25\n2,0.125\n"
 * ```
 */
export function toCsv(rows: CsvRow[], columns?: string[], separator = ","): string {
  const cols = columns ?? columnsOf(rows);
  return line(cols, separator) + rows.map((r) => line(cols.map((c) => r[c]), separator)).join("");
}

/** Options of {@link CsvWriter}. */
export interface CsvWriterOptions {
  /** Column order; default: the keys of the first row. */
  columns?: string[];
  /** Field separator (default ","). */
  separator?: string;
  /** Called with each chunk of text as it is produced (the header comes with the first row). */
  onWrite?: (chunk: string) => void;
}

/**
 * Writes CSV incrementally: the header once, then one line per row. Columns
 * are fixed by the options or by the first row; a later row with a column
 * not in the header is an error rather than a silently dropped value.
 *
 * @example
 * ```ts
 * const log = new CsvWriter({
 *   onWrite: (chunk) => Deno.writeTextFileSync("train_log.csv", chunk, { append: true }),
 * });
 * log.write({ epoch: 0, loss: 0.07 });
 * log.write({ epoch: 1, loss: 0.05 });
 * log.text; // "epoch,loss\n0,0.07\n1,0.05\n"
 * ```
 */
export class CsvWriter {
  #columns: string[] | undefined;
  #separator: string;
  #onWrite?: (chunk: string) => void;
  #chunks: string[] = [];

  /**
   * @example
   * ```ts
   * const w = new CsvWriter({ columns: ["epoch", "loss", "acc"] });
   * ```
   */
  constructor(options: CsvWriterOptions = {}) {
    this.#columns = options.columns?.slice();
    this.#separator = options.separator ?? ",";
    this.#onWrite = options.onWrite;
  }

  /**
   * The columns in header order (undefined until known).
   *
   * @example
   * ```ts
   * new CsvWriter({ columns: ["a"] }).columns; // ["a"]
   * ```
   */
  get columns(): readonly string[] | undefined {
    return this.#columns;
  }

  /**
   * Appends a row; returns the text it produced (preceded by the header line
   * on the first call), which is also passed to `onWrite`.
   *
   * @example
   * ```ts
   * new CsvWriter().write({ epoch: 1, loss: 0.5 }); // "epoch,loss\n1,0.5\n"
   * ```
   */
  write(row: CsvRow): string {
    let chunk = "";
    if (this.#chunks.length === 0) {
      this.#columns ??= Object.keys(row);
      chunk += line(this.#columns, this.#separator);
    }
    const cols = this.#columns!;
    for (const k of Object.keys(row)) {
      if (!cols.includes(k)) {
        throw new Error(`CsvWriter.write: column "${k}" is not in the header [${cols.join(", ")}]`);
      }
    }
    chunk += line(cols.map((c) => row[c]), this.#separator);
    this.#chunks.push(chunk);
    this.#onWrite?.(chunk);
    return chunk;
  }

  /**
   * Everything written so far.
   *
   * @example
   * ```ts
   * const w = new CsvWriter();
   * w.write({ x: 1 });
   * w.text; // "x\n1\n"
   * ```
   */
  get text(): string {
    return this.#chunks.join("");
  }
}
