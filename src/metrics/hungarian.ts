/**
 * Optimal one-to-one assignment (the linear sum assignment problem) on the host.
 *
 * The Hungarian method of Kuhn (1955) and Munkres (1957), in its O(n²m) form: rows are added
 * one at a time and each is matched by a shortest augmenting path on reduced costs, found
 * Dijkstra-style, while dual potentials on rows and columns keep every reduced cost
 * non-negative (Edmonds & Karp 1972; Tomizawa 1971). Rectangular matrices are handled by
 * solving the orientation with no more rows than columns.
 *
 * @module
 */

/** An optimal assignment of rows to columns. */
export interface Assignment {
  /** `rowToCol[i]` is the column given to row `i`, or -1 when there are more rows than columns
   * and row `i` is left out. */
  rowToCol: Int32Array;
  /** `colToRow[j]` is the row given column `j`, or -1 when column `j` is left out. */
  colToRow: Int32Array;
  /** The sum of the chosen entries of the input matrix. */
  total: number;
}

/**
 * Solves min Σᵢ cost[i, σ(i)] over one-to-one maps σ between rows and columns of a
 * `rows`×`cols` row-major matrix. Exactly min(rows, cols) pairs are chosen; when the matrix is
 * not square the surplus rows (or columns) are left out. With `{ maximize: true }` the total
 * is maximised instead. O(min² · max) time.
 *
 * @example
 * ```ts
 * // Three workers, three jobs: the cheapest way to give one job to each worker.
 * const { rowToCol, total } = linearSumAssignment([4, 1, 3, 2, 0, 5, 3, 2, 2], 3, 3);
 * // rowToCol = [1, 0, 2], total = 1 + 2 + 2 = 5
 * ```
 */
export function linearSumAssignment(
  cost: ArrayLike<number>,
  rows: number,
  cols: number,
  options: { maximize?: boolean } = {},
): Assignment {
  const where = `linearSumAssignment(cost, rows=${rows}, cols=${cols})`;
  if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
    throw new Error(`${where}: expected non-negative integer rows and cols`);
  }
  if (cost.length !== rows * cols) {
    throw new Error(`${where}: expected cost of length ${rows * cols}, got ${cost.length}`);
  }
  for (let k = 0; k < cost.length; k++) {
    if (!Number.isFinite(cost[k])) {
      throw new Error(
        `${where}: expected finite costs, cost[${Math.floor(k / cols)}, ${k % cols}] is ${cost[k]}`,
      );
    }
  }
  const sign = options.maximize ? -1 : 1;
  const rowToCol = new Int32Array(rows).fill(-1);
  const colToRow = new Int32Array(cols).fill(-1);
  if (rows === 0 || cols === 0) return { rowToCol, colToRow, total: 0 };

  // The solver wants the short side as rows; transposing costs O(rows·cols), nothing next to
  // the solve itself.
  const transpose = rows > cols;
  const n = transpose ? cols : rows, m = transpose ? rows : cols;
  const c = new Float64Array(n * m);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      c[transpose ? j * m + i : i * m + j] = sign * cost[i * cols + j];
    }
  }
  const match = solveWide(c, n, m);
  let total = 0;
  for (let r = 0; r < n; r++) {
    const i = transpose ? match[r] : r, j = transpose ? r : match[r];
    rowToCol[i] = j;
    colToRow[j] = i;
    total += cost[i * cols + j];
  }
  return { rowToCol, colToRow, total };
}

/**
 * The assignment with the largest total weight: {@link linearSumAssignment} with
 * `maximize: true`. This is how clustering accuracy matches clusters to classes.
 *
 * @example
 * ```ts
 * // Rows are clusters, columns are classes, entries are co-occurrence counts.
 * const { rowToCol, total } = maxWeightAssignment([1, 9, 8, 2], 2, 2);
 * // rowToCol = [1, 0], total = 17
 * ```
 */
export function maxWeightAssignment(
  weight: ArrayLike<number>,
  rows: number,
  cols: number,
): Assignment {
  return linearSumAssignment(weight, rows, cols, { maximize: true });
}

/**
 * Minimum-cost matching of every row of an n×m matrix (n ≤ m) to a distinct column; returns
 * the column of each row.
 *
 * Invariant: rowPot[i] + colPot[j] ≤ c[i, j] for every pair, with equality on matched pairs,
 * so a matching that is complete is optimal by LP duality. Row r is brought in by growing a
 * tree of tight edges from a virtual column 0 that r "owns"; `slack[j]` is the smallest reduced
 * cost seen from the tree to column j, and `via[j]` the tree column it was seen from. Each
 * round adds the column of least slack to the tree and shifts the potentials by that slack
 * (which keeps tree edges tight and all reduced costs non-negative) until a free column is
 * reached; the matching is then flipped along the path back to column 0.
 */
function solveWide(c: Float64Array, n: number, m: number): Int32Array {
  // Columns are numbered 1..m here; column 0 is the virtual root.
  const rowPot = new Float64Array(n);
  const colPot = new Float64Array(m + 1);
  const owner = new Int32Array(m + 1).fill(-1); // owner[j]: row matched to column j, -1 if free
  const via = new Int32Array(m + 1);
  const slack = new Float64Array(m + 1);
  const inTree = new Uint8Array(m + 1);

  for (let r = 0; r < n; r++) {
    owner[0] = r;
    slack.fill(Infinity);
    inTree.fill(0);
    let col = 0;
    while (owner[col] !== -1) {
      inTree[col] = 1;
      const row = owner[col], base = row * m - 1, ur = rowPot[row];
      let best = Infinity, next = -1;
      for (let j = 1; j <= m; j++) {
        if (inTree[j]) continue;
        const reduced = c[base + j] - ur - colPot[j];
        if (reduced < slack[j]) {
          slack[j] = reduced;
          via[j] = col;
        }
        if (slack[j] < best) {
          best = slack[j];
          next = j;
        }
      }
      // A free column always remains outside the tree: the tree holds column 0 plus at most
      // r matched columns, and m ≥ n > r.
      for (let j = 0; j <= m; j++) {
        if (inTree[j]) {
          rowPot[owner[j]] += best;
          colPot[j] -= best;
        } else {
          slack[j] -= best;
        }
      }
      col = next;
    }
    // Flip the alternating path: each column on it takes the row of the column before it.
    while (col !== 0) {
      const prev = via[col];
      owner[col] = owner[prev];
      col = prev;
    }
  }

  const match = new Int32Array(n);
  for (let j = 1; j <= m; j++) if (owner[j] !== -1) match[owner[j]] = j - 1;
  return match;
}
