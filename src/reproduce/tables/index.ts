// Layer: reproduce. The catalogue of published tables `rankshield reproduce` knows.
import { ROBRANK_FASHION } from './robrank-fashion.js';
import { CVPR22_SOTA } from './cvpr22-sota.js';
import { CATRIDE_MAIN } from './catride-main.js';
import type { PublishedRow, PublishedTable } from './types.js';
export type { PublishedRow, PublishedTable, RowRun, TableColumn, TableSource } from './types.js';

export const TABLES: readonly PublishedTable[] = [ROBRANK_FASHION, CVPR22_SOTA, CATRIDE_MAIN];

export function tableByName(name: string): PublishedTable {
  const t = TABLES.find((x) => x.name === name);
  if (t === undefined) throw new Error(`unknown table '${name}' (tables: ${TABLES.map((x) => x.name).join(', ')})`);
  return t;
}

/** The rows named (all when none), in the table's order unless given; an unknown id is an error naming the known ones. */
export function selectRows(t: PublishedTable, ids: readonly string[]): PublishedRow[] {
  if (ids.length === 0) return [...t.rows];
  return ids.map((id) => {
    const r = t.rows.find((x) => x.id === id);
    if (r === undefined) throw new Error(`table ${t.name} has no row '${id}' (rows: ${t.rows.map((x) => x.id).join(', ')})`);
    return r;
  });
}
