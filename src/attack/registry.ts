// Layer: attack. The catalogue of ranking attacks: one line per attack (each attack's file
// exports its entry, entry.ts says what one holds), and the lookups every caller uses.
// Kinds, ERS runs, report columns, CLI flags and help, and the service's menu derive from it.
import type { z } from 'zod';
import type { RankingAttack } from './attack.js';
import type { AttackEntry } from './entry.js';
import type { AttackField } from './option-fields.js';
import { CA_MINUS, CA_PLUS } from './candidate.js';
import { QA_MINUS, QA_PLUS } from './query.js';
import { TMA } from './targeted-mismatch.js';
import { ES } from './embedding-shift.js';
import { LTM } from './learning-to-misrank.js';
import { GTM } from './greedy-top-misrank.js';
import { GTT } from './greedy-top-translocation.js';
import { SPQA_MINUS, SPQA_PLUS } from './semantics-preserving-query.js';

export type { AttackColumn, AttackEntry, RobustDirection } from './entry.js';

/** Every ranking attack, in the order of help and menus (seeds come from each entry's seedId, not from here). */
export const ATTACKS = [CA_PLUS, CA_MINUS, QA_PLUS, QA_MINUS, TMA, ES, LTM, GTM, GTT, SPQA_PLUS, SPQA_MINUS] as const;

/** An attack's name: one of the catalogue's kinds (a union made from ATTACKS, so a typo does not compile). */
export type AttackKind = (typeof ATTACKS)[number]['kind'];

/** An option field of some attack of the catalogue. */
type CatalogueField = (typeof ATTACKS)[number]['options'][number];

/** Every option of every attack, each typed by its field's schema; absent = the reference behaviour. */
export type AttackOptions = { [F in CatalogueField as F['key']]?: z.infer<F['schema']> };

/** The catalogue as plain entries (what the generic lookups work on). */
const ENTRIES: readonly (AttackEntry & { readonly kind: AttackKind })[] = ATTACKS;

/** Every attack kind, in catalogue order (the order of help and menus; seeds come from each entry's seedId). */
export const ATTACK_KINDS: readonly AttackKind[] = ATTACKS.map((a) => a.kind);

/**
 * Every option field of the catalogue once (fields shared by several attacks, as M by QA± and SPQA±,
 * are one object), in catalogue order: the CLI's flags are made from them.
 */
export const ATTACK_OPTION_FIELDS: readonly AttackField[] = [...new Set(ENTRIES.flatMap((a) => a.options))];

/** The options that are one setting for every attack of a swipe (not set for each run by a profile, as W and M are). */
export const SWIPE_WIDE_OPTION_FIELDS: readonly AttackField[] = ATTACK_OPTION_FIELDS.filter((f) => !f.perRun);

/** The fixed seed id of an attack kind (its entry's `seedId`, whatever its position in ATTACKS). */
export function seedIdOf(kind: AttackKind): number {
  return attackEntry(kind).seedId;
}

/** Whether a string is an attack kind as the catalogue spells it (no aliases; see parseAttackKind). */
export function isAttackKind(s: string): s is AttackKind {
  return (ATTACK_KINDS as readonly string[]).includes(s);
}

/** The runs of an ERS profile (ES gives two columns, so ten numbers). */
export const ERS_ATTACK_KINDS: readonly AttackKind[] = ATTACKS.filter((a) => a.ers).map((a) => a.kind);

/** The catalogue entry of an attack from a user's spelling (case-insensitive, `−` for `-`, aliases); throws listing the kinds. */
export function attackEntry(s: string): AttackEntry & { readonly kind: AttackKind } {
  const k = s.toUpperCase().replace('−', '-');
  const found = ENTRIES.find((a) => a.kind === k || a.aliases?.includes(k) === true);
  if (found === undefined) throw new Error(`unknown attack '${s}' (expected one of ${ATTACK_KINDS.join(', ')})`);
  return found;
}

/** An attack kind from a user's spelling; throws on unknown names. */
export function parseAttackKind(s: string): AttackKind {
  return attackEntry(s).kind;
}

/**
 * The options of `kind` among `o`, each checked by its field's schema (the error names the attack,
 * the option and its flag); options of other attacks are left out.
 */
export function attackOptionsFor(kind: AttackKind, o: AttackOptions): AttackOptions {
  const entry = attackEntry(kind);
  const given = o as Readonly<Record<string, unknown>>;
  const out: Record<string, unknown> = {};
  for (const field of entry.options) {
    const v = given[field.key];
    if (v === undefined) continue;
    if (!field.schema.safeParse(v).success) throw new Error(`${entry.kind}: ${field.key} (--${field.flag}) must be ${field.expects}, got ${JSON.stringify(v)}`);
    out[field.key] = v;
  }
  return out as AttackOptions; // every value passed its field's schema above
}

/**
 * The options that make `kind` choose `size` items (W queries for CA±, M candidates for QA± and
 * SPQA±): its per-run fields set to `size`; none for an attack that chooses nothing.
 */
export function perRunOptions(kind: AttackKind, size: number): AttackOptions {
  return attackOptionsFor(
    kind,
    Object.fromEntries(
      attackEntry(kind)
        .options.filter((f) => f.perRun)
        .map((f) => [f.key, size]),
    ),
  );
}

/** How many items `kind` chooses under `o` (its per-run option, W or M, or that option's default); 1 for an attack that chooses nothing. */
export function perRunSize(kind: AttackKind, o: AttackOptions): number {
  const field = attackEntry(kind).options.find((f) => f.perRun);
  const v = field === undefined ? undefined : (o as Readonly<Record<string, unknown>>)[field.key];
  return typeof v === 'number' ? v : typeof field?.default === 'number' ? field.default : 1;
}

/** Any ranking attack by kind, with the reference behaviour unless an option says otherwise (options checked first). */
export function createAttack(kind: AttackKind, o: AttackOptions = {}): RankingAttack {
  return attackEntry(kind).create(attackOptionsFor(kind, o));
}
