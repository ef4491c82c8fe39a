/**
 * Training callbacks: progress, CSV logging, early stopping, learning-rate
 * schedules and plain hooks (Keras' `keras.callbacks`).
 *
 * Logs passed to callbacks hold numbers the host already has: per-epoch
 * values are read back once per epoch, and the running loss shown by the
 * progress bar comes from a readback started at most once per
 * `progressInterval` without waiting for it, so no callback makes the
 * training loop wait on the GPU per step.
 *
 * @module
 */

/** Per-epoch (or running) values: `loss`, `val_loss`, `accuracy`, `lr`, … */
export type Logs = Record<string, number>;

/** What fit() tells callbacks before training starts. */
export interface TrainParams {
  epochs: number;
  /** Steps per epoch. */
  steps: number;
  /** Training samples per epoch. */
  samples: number;
  batchSize: number;
}

/** The part of a model callbacks may touch. */
export interface TrainingTarget {
  /** Set true to stop: fit ends after the current batch (its epoch still logged). */
  stopTraining: boolean;
  /** The optimizer's learning rate (schedules write it). */
  learningRate: number;
}

/** A training callback; every hook is optional. */
export interface Callback {
  setParams?(params: TrainParams, target: TrainingTarget): void;
  onTrainBegin?(): void | Promise<void>;
  onEpochBegin?(epoch: number): void | Promise<void>;
  /** After each step; `logs.loss` is the latest running mean known on the host (may lag). */
  onBatchEnd?(step: number, logs: Logs): void | Promise<void>;
  onEpochEnd?(epoch: number, logs: Logs): void | Promise<void>;
  onTrainEnd?(logs: Logs): void | Promise<void>;
  /**
   * A clustering target refresh (`DEC.fit`, IDEC, conv-DEC), after `step`
   * fine-tuning steps: `logs.changed` is the fraction of labels that changed
   * since the previous refresh, and given true labels `acc`, `nmi`, `ari`.
   */
  onRefresh?(step: number, logs: Logs): void | Promise<void>;
}

function fmtNum(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const a = Math.abs(v);
  return a !== 0 && (a < 1e-3 || a >= 1e5) ? v.toExponential(3) : v.toFixed(4);
}

function fmtTime(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(0)}s`;
  const m = Math.floor(s / 60);
  return m < 60
    ? `${m}m${String(Math.round(s % 60)).padStart(2, "0")}s`
    : `${Math.floor(m / 60)}h${m % 60}m`;
}

function isTty(): boolean {
  const d = (globalThis as { Deno?: { stdout?: { isTerminal?: () => boolean } } }).Deno;
  return Boolean(d?.stdout?.isTerminal?.());
}

function writeOut(text: string): void {
  const d = (globalThis as { Deno?: { stdout?: { writeSync?: (b: Uint8Array) => number } } }).Deno;
  if (d?.stdout?.writeSync) d.stdout.writeSync(new TextEncoder().encode(text));
  // deno-lint-ignore no-control-regex
  else console.log(text.replace(/\r|\x1b\[2K/g, "").trimEnd());
}

/** Options of {@link progress}. */
export interface ProgressOptions {
  /** Where lines go (default: the terminal; console.log in browsers). */
  write?: (text: string) => void;
  /** Redraw a live bar (default: only when stdout is a terminal). */
  live?: boolean;
  /** Print one summary line per epoch even when not live (default true). */
  epochLines?: boolean;
}

/**
 * A terminal progress bar: epoch, step, loss, samples/s and ETA, redrawn in
 * place on a TTY; one line per epoch otherwise (quiet logs in CI). During
 * `DEC.fit` it also prints a line per target refresh: the step, ACC / NMI /
 * ARI when true labels were given, and the share of labels that changed.
 *
 * @example
 * ```ts
 * await model.fit(x, x, { epochs: 10, callbacks: [lt.callbacks.progress()] });
 * ```
 */
export function progress(options: ProgressOptions = {}): Callback {
  const live = options.live ?? isTty();
  const write = options.write ?? writeOut;
  let params: TrainParams = { epochs: 1, steps: 1, samples: 0, batchSize: 1 };
  let epochStart = 0, lastDraw = 0, epoch = 0;
  const bar = (done: number, total: number) => {
    const w = 24, k = Math.round((done / Math.max(1, total)) * w);
    return "[" + "=".repeat(Math.max(0, k - 1)) + (k > 0 ? (done >= total ? "=" : ">") : "") +
      ".".repeat(w - k) + "]";
  };
  return {
    setParams(p) {
      params = p;
    },
    onEpochBegin(e) {
      epoch = e;
      epochStart = performance.now();
      lastDraw = 0;
    },
    onBatchEnd(step, logs) {
      if (!live) return;
      const now = performance.now();
      if (now - lastDraw < 100 && step + 1 < params.steps) return;
      lastDraw = now;
      const el = (now - epochStart) / 1000;
      const done = step + 1;
      const sps = Math.min(done * params.batchSize, params.samples) / Math.max(el, 1e-9);
      const eta = (el / done) * (params.steps - done);
      const loss = logs.loss === undefined || Number.isNaN(logs.loss) ? "…" : fmtNum(logs.loss);
      write(
        `\r\x1b[2KEpoch ${epoch + 1}/${params.epochs} ${
          bar(done, params.steps)
        } ${done}/${params.steps}` +
          ` - loss: ${loss} - ${sps.toFixed(0)} samples/s - ETA ${fmtTime(eta)}`,
      );
    },
    onRefresh(step, logs) {
      const scores = ["acc", "nmi", "ari"].filter((k) => logs[k] !== undefined)
        .map((k) => `${k.toUpperCase()} ${logs[k].toFixed(4)}`);
      write(
        `${live ? "\r\x1b[2K" : ""}  refresh at step ${step}: ${
          [...scores, `labels changed ${(100 * logs.changed).toFixed(2)}%`].join(" - ")
        }\n`,
      );
    },
    onEpochEnd(e, logs) {
      if (!live && options.epochLines === false) return;
      const el = (performance.now() - epochStart) / 1000;
      const sps = params.samples / Math.max(el, 1e-9);
      const vals = Object.entries(logs).filter(([k]) => k !== "lr").map(([k, v]) =>
        `${k}: ${fmtNum(v)}`
      )
        .join(" - ");
      write(
        `${live ? "\r\x1b[2K" : ""}Epoch ${e + 1}/${params.epochs} - ${fmtTime(el)} - ${
          sps.toFixed(0)
        } samples/s - ${vals}\n`,
      );
    },
  };
}

/**
 * Collects per-epoch logs as CSV text (Keras' CSVLogger). Pass `write` to
 * stream each line (e.g. append to a file in Deno); `text()` returns it all.
 *
 * @example
 * ```ts
 * const csv = lt.callbacks.csvLogger({ write: (line) => Deno.writeTextFileSync("log.csv", line, { append: true }) });
 * ```
 */
export function csvLogger(
  options: { write?: (line: string) => void; separator?: string } = {},
): Callback & { text(): string } {
  const sep = options.separator ?? ",";
  let columns: string[] | null = null;
  const lines: string[] = [];
  const emit = (l: string) => {
    lines.push(l);
    options.write?.(l + "\n");
  };
  return {
    onEpochEnd(epoch, logs) {
      if (!columns) {
        columns = Object.keys(logs).sort();
        emit(["epoch", ...columns].join(sep));
      }
      emit([String(epoch), ...columns.map((c) => (c in logs ? String(logs[c]) : ""))].join(sep));
    },
    text: () => lines.join("\n") + (lines.length ? "\n" : ""),
  };
}

/** Options of {@link earlyStopping}. */
export interface EarlyStoppingOptions {
  /** Log to watch (default `val_loss`, falling back to `loss` when absent). */
  monitor?: string;
  /** Smallest change that counts as an improvement. */
  minDelta?: number;
  /** Epochs without improvement before stopping. */
  patience?: number;
  /** `min` for losses, `max` for accuracies; `auto` picks from the name. */
  mode?: "min" | "max" | "auto";
}

/**
 * Stops training when a monitored value stops improving (Keras' EarlyStopping).
 *
 * @example
 * ```ts
 * callbacks: [lt.callbacks.earlyStopping({ monitor: "val_loss", patience: 3 })]
 * ```
 */
export function earlyStopping(
  options: EarlyStoppingOptions = {},
): Callback & { stoppedEpoch: number } {
  const patience = options.patience ?? 0, minDelta = Math.abs(options.minDelta ?? 0);
  if (!Number.isInteger(patience) || patience < 0) {
    throw new RangeError(`earlyStopping: patience must be an integer >= 0, got ${patience}`);
  }
  let target: TrainingTarget | null = null;
  let best = NaN, wait = 0;
  const cb = {
    stoppedEpoch: -1,
    setParams(_p: TrainParams, t: TrainingTarget) {
      target = t;
      best = NaN;
      wait = 0;
    },
    onEpochEnd(epoch: number, logs: Logs) {
      const key = options.monitor ?? ("val_loss" in logs ? "val_loss" : "loss");
      const v = logs[key];
      if (v === undefined) {
        throw new Error(
          `earlyStopping: monitored value "${key}" is not in the logs (${
            Object.keys(logs).join(", ")
          })`,
        );
      }
      const mode = options.mode && options.mode !== "auto"
        ? options.mode
        : /acc/.test(key)
        ? "max"
        : "min";
      const better = Number.isNaN(best) ||
        (mode === "min" ? v < best - minDelta : v > best + minDelta);
      if (better) {
        best = v;
        wait = 0;
      } else if (++wait > patience && target) {
        target.stopTraining = true;
        cb.stoppedEpoch = epoch;
      }
    },
  };
  return cb;
}

/**
 * Sets the learning rate at the start of each epoch from `schedule(epoch, lr)`
 * (Keras' LearningRateScheduler).
 *
 * @example
 * ```ts
 * lt.callbacks.learningRateScheduler((epoch, lr) => (epoch > 0 && epoch % 10 === 0 ? lr * 0.1 : lr))
 * ```
 */
export function learningRateScheduler(schedule: (epoch: number, lr: number) => number): Callback {
  let target: TrainingTarget | null = null;
  return {
    setParams(_p, t) {
      target = t;
    },
    onEpochBegin(epoch) {
      if (!target) return;
      const lr = schedule(epoch, target.learningRate);
      if (!Number.isFinite(lr) || lr <= 0) {
        throw new RangeError(
          `learningRateScheduler: schedule returned ${lr} for epoch ${epoch} (expected > 0)`,
        );
      }
      target.learningRate = lr;
    },
  };
}

/**
 * A callback from plain functions (Keras' LambdaCallback).
 *
 * @example
 * ```ts
 * lt.callbacks.lambda({ onEpochEnd: (e, logs) => console.log(e, logs.loss) })
 * ```
 */
export function lambda(hooks: Callback): Callback {
  return hooks;
}
