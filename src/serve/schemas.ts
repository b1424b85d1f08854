// Layer: serve. Every request body and query string checked against a schema
// before anything is done with it: types, ranges, and no field the API does
// not know (a typo is an error, not a silently ignored option). A failure is a
// 400 whose message names each offending field.
import { z } from 'zod';
import { PROFILES } from '../attack/index.js';
import { badRequest } from './errors.js';
import { LIMITS, MAX_SEED } from './limits.js';

/** One line per problem, each naming its field (`query.id: …`, `body: unknown field 'x'`); `root` names the whole input. */
export function describeIssues(error: z.ZodError, root = 'body'): string {
  return error.issues
    .map((i) => {
      const where = i.path.length === 0 ? root : i.path.map(String).join('.');
      if (i.code === 'unrecognized_keys') return `${where}: unknown field${i.keys.length > 1 ? 's' : ''} ${i.keys.map((k) => `'${k}'`).join(', ')}`;
      const got = 'input' in i && i.input !== undefined && typeof i.input !== 'object' ? ` (got ${JSON.stringify(i.input) ?? String(i.input)})` : '';
      return `${where}: ${i.message}${got}`;
    })
    .join('; ');
}

/** `raw` checked against `schema`, or a 400 naming what is wrong (`root`: 'body' or 'query string'). */
export function parse<T extends z.ZodType>(schema: T, raw: unknown, root = 'body'): z.output<T> {
  const r = schema.safeParse(raw, { reportInput: true });
  if (!r.success) throw badRequest(describeIssues(r.error, root));
  return r.data;
}

const int = (min: number, max: number, what: string): z.ZodNumber =>
  z
    .number()
    .int()
    .min(min, { error: `must be ${what}` })
    .max(max, { error: `must be ${what}` });

/** The request schemas of a gallery of `n` images. */
export function requestSchemas(n: number) {
  const id = int(0, n - 1, `a gallery id in [0, ${n - 1}]`);
  const query = z
    .strictObject({ id: id.optional(), image: z.string().max(LIMITS.bodyBytes).optional() })
    .refine((q) => (q.id === undefined) !== (q.image === undefined), { error: 'give exactly one of id (a gallery id) or image (base64 PNG or JPEG)' });
  const k = int(1, LIMITS.maxK, `an integer in [1, ${LIMITS.maxK}]`).optional();
  const seed = int(0, MAX_SEED, `an integer in [0, ${MAX_SEED}]`).optional();
  return {
    search: z.strictObject({ query, k }),
    attack: z.strictObject({
      query,
      attack: z.string().min(1),
      epsilon: z
        .number()
        .gt(0, { error: 'must be in (0, 1] (pixel scale, e.g. 0.0314 = 8/255)' })
        .lte(1, { error: 'must be in (0, 1] (pixel scale, e.g. 0.0314 = 8/255)' })
        .optional(),
      alpha: z.number().gt(0, { error: 'must be in (0, 1]' }).lte(1, { error: 'must be in (0, 1]' }).optional(),
      steps: int(1, LIMITS.maxSteps, `an integer in [1, ${LIMITS.maxSteps}]`).optional(),
      candidates: z.array(id).min(1).max(LIMITS.maxCandidates).optional(),
      k,
      seed,
    }),
    swipe: z.strictObject({
      profile: z.enum(Object.keys(PROFILES) as [string, ...string[]]).optional(),
      maxQueries: int(1, n, `an integer in [1, ${n}] (the gallery has ${n} images)`).optional(),
      seed,
      robustEval: z.boolean({ error: 'must be true or false' }).optional(),
    }),
  };
}

/** A non-negative integer query-string parameter in [min, max]. */
const intParam = (min: number, max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, { error: 'must be a non-negative integer' })
    .transform(Number)
    .pipe(
      z
        .number()
        .min(min, { error: `must be in [${min}, ${max}]` })
        .max(max, { error: `must be in [${min}, ${max}]` }),
    );

/** GET /api/gallery's query string. */
export const galleryQuery = z.strictObject({
  offset: intParam(0, 1e9).optional(),
  limit: intParam(1, LIMITS.maxPageSize).optional(),
  label: z
    .string()
    .regex(/^-?\d{1,9}$/, { error: 'must be an integer' })
    .transform(Number)
    .optional(),
});
