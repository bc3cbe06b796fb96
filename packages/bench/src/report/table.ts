/**
 * The plain table every report renderer takes: rows (methods, models) × columns (benchmarks,
 * metrics) of `{ mean, stderr, n }`, with each column saying whether higher is better. Code that
 * builds experiment tables (seeds aggregated, tiers as columns) fills this structure directly.
 */

/** One table cell: a mean with its standard error over `n` items (or seeds). */
export interface Cell {
  mean: number;
  /** Standard error of the mean; omitted when unknown. */
  stderr?: number;
  /** Items (or seeds) behind the mean. */
  n?: number;
  /** Confidence interval, when the metric was bootstrapped. */
  ci?: [number, number];
}

/** A column (benchmark or metric). */
export interface Column {
  /** Key used in {@link Row.cells}. */
  key: string;
  /** Header text; defaults to the key. */
  label?: string;
  higherIsBetter: boolean;
}

/** A row (method or model); a column missing from `cells` (or null) is an empty cell. */
export interface Row {
  name: string;
  cells: Record<string, Cell | null | undefined>;
}

/** A methods × benchmarks table. */
export interface ResultTable {
  columns: Column[];
  rows: Row[];
  /** Caption used by the LaTeX and HTML renderers. */
  caption?: string;
}

/** The cell of `row` in column `key`, or null. */
export function cellOf(row: Row, key: string): Cell | null {
  const c = row.cells[key];
  return c && Number.isFinite(c.mean) ? c : null;
}

/** Throws a clear error for duplicate row names / column keys or non-finite numbers. */
export function validateTable(table: ResultTable): void {
  const seenCols = new Set<string>();
  for (const c of table.columns) {
    if (seenCols.has(c.key)) throw new Error(`table: duplicate column '${c.key}'`);
    seenCols.add(c.key);
  }
  const seenRows = new Set<string>();
  for (const r of table.rows) {
    if (seenRows.has(r.name)) throw new Error(`table: duplicate row '${r.name}'`);
    seenRows.add(r.name);
    for (const [k, cell] of Object.entries(r.cells)) {
      if (!seenCols.has(k)) throw new Error(`table: row '${r.name}' has a cell for unknown column '${k}'`);
      if (cell && !Number.isFinite(cell.mean)) throw new Error(`table: row '${r.name}', column '${k}': mean is ${cell.mean}`);
      if (cell?.stderr !== undefined && !(cell.stderr >= 0)) {
        throw new Error(`table: row '${r.name}', column '${k}': stderr must be a finite number >= 0, got ${cell.stderr}`);
      }
    }
  }
}

/**
 * Aggregates per-seed cells into one: mean of the means, stderr = sample std (n−1) of the means
 * / √k over the k seeds (the seed-to-seed spread), n = k. One seed keeps its own stderr.
 */
export function aggregateSeeds(cells: readonly Cell[]): Cell {
  const ok = cells.filter((c) => Number.isFinite(c.mean));
  if (ok.length === 0) throw new Error('aggregateSeeds: no finite cells');
  if (ok.length === 1) return { ...ok[0] };
  const k = ok.length;
  const mean = ok.reduce((a, c) => a + c.mean, 0) / k;
  const variance = ok.reduce((a, c) => a + (c.mean - mean) ** 2, 0) / (k - 1);
  return { mean, stderr: Math.sqrt(variance / k), n: k };
}
