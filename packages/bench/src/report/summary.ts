/**
 * The paper's summary columns: "Relative Overall" (per benchmark, min–max normalise so that the
 * base model is 0 and the best method is 100, then average over benchmarks) and the average rank
 * (lower is better, ties share the mean of their ranks).
 */
import { cellOf, type ResultTable } from './table.js';

/** Result of {@link relativeOverall}. */
export interface RelativeOverall {
  /** Row name → average normalised score, or null when the row lacks a value in a used column. */
  scores: Record<string, number | null>;
  /** Column key → row name → normalised score (base 0, best 100). Only columns that were used. */
  perColumn: Record<string, Record<string, number | null>>;
  /** Columns left out: the base is already the best there (or ties it), or the base has no value. */
  excluded: { column: string; reason: string }[];
}

/**
 * Relative Overall. For each column j, with base value b_j and best value m_j (the max over all
 * rows when higher is better, the min otherwise), row i scores 100·(v_ij − b_j)/(m_j − b_j):
 * base 0, best 100, worse than base negative; the formula is the same for both directions since
 * m_j is chosen per direction. A column where the base is itself the best (m_j = b_j) has no
 * scale and is excluded (listed in `excluded`), as is a column where the base has no value.
 */
export function relativeOverall(table: ResultTable, opts: { base: string }): RelativeOverall {
  const baseRow = table.rows.find((r) => r.name === opts.base);
  if (!baseRow) throw new Error(`relativeOverall: base row '${opts.base}' not in table (rows: ${table.rows.map((r) => r.name).join(', ')})`);
  const perColumn: RelativeOverall['perColumn'] = {};
  const excluded: RelativeOverall['excluded'] = [];
  for (const col of table.columns) {
    const base = cellOf(baseRow, col.key);
    if (!base) {
      excluded.push({ column: col.key, reason: 'base has no value' });
      continue;
    }
    const values = table.rows.map((r) => cellOf(r, col.key)?.mean).filter((v): v is number => v !== undefined);
    const best = col.higherIsBetter ? Math.max(...values) : Math.min(...values);
    if (best === base.mean) {
      excluded.push({ column: col.key, reason: 'base is the best (no range to normalise)' });
      continue;
    }
    const scale = best - base.mean;
    perColumn[col.key] = Object.fromEntries(
      table.rows.map((r) => {
        const c = cellOf(r, col.key);
        return [r.name, c ? (100 * (c.mean - base.mean)) / scale : null];
      }),
    );
  }
  const used = Object.keys(perColumn);
  const scores: Record<string, number | null> = {};
  for (const r of table.rows) {
    if (used.length === 0) {
      scores[r.name] = null;
      continue;
    }
    const vals = used.map((k) => perColumn[k][r.name]);
    scores[r.name] = vals.some((v) => v === null) ? null : (vals as number[]).reduce((a, v) => a + v, 0) / vals.length;
  }
  return { scores, perColumn, excluded };
}

/**
 * Fractional ranks (1 = best) of `values` in one direction; tied values share the mean of the
 * ranks they span (e.g. two rows tied for first both get 1.5). Null values get null.
 */
export function fractionalRanks(values: (number | null)[], higherIsBetter: boolean): (number | null)[] {
  const idx = values.map((v, i) => ({ v, i })).filter((x): x is { v: number; i: number } => x.v !== null);
  idx.sort((a, b) => (higherIsBetter ? b.v - a.v : a.v - b.v));
  const ranks: (number | null)[] = values.map(() => null);
  for (let s = 0; s < idx.length; ) {
    let e = s;
    while (e + 1 < idx.length && idx[e + 1].v === idx[s].v) e++;
    const rank = (s + 1 + e + 1) / 2;
    for (let k = s; k <= e; k++) ranks[idx[k].i] = rank;
    s = e + 1;
  }
  return ranks;
}

/** Result of {@link averageRank}. */
export interface AverageRank {
  /** Row name → mean rank over columns (lower is better), or null when the row lacks a value. */
  ranks: Record<string, number | null>;
  /** Column key → row name → rank in that column. */
  perColumn: Record<string, Record<string, number | null>>;
}

/**
 * Average rank over columns: each column ranks all rows (1 = best by its direction, ties
 * averaged), then each row's ranks are averaged. A row missing any column gets null (ranks over
 * different column sets are not comparable).
 */
export function averageRank(table: ResultTable): AverageRank {
  const perColumn: AverageRank['perColumn'] = {};
  for (const col of table.columns) {
    const r = fractionalRanks(
      table.rows.map((row) => cellOf(row, col.key)?.mean ?? null),
      col.higherIsBetter,
    );
    perColumn[col.key] = Object.fromEntries(table.rows.map((row, i) => [row.name, r[i]]));
  }
  const ranks: Record<string, number | null> = {};
  for (const row of table.rows) {
    if (table.columns.length === 0) {
      ranks[row.name] = null;
      continue;
    }
    const rs = table.columns.map((c) => perColumn[c.key][row.name]);
    ranks[row.name] = rs.some((v) => v === null) ? null : (rs as number[]).reduce((a, v) => a + v, 0) / rs.length;
  }
  return { ranks, perColumn };
}
