// Layer: attack. Public surface: the PGD budget (L∞ or L2 ball) and core, the search methods (PGD, APGD, Square, NES), the nine ranking attacks, their
// embedding-level objectives and measures, and the swipe profiles.
export * from './budget.js';
export { pgd, validateImages, type PgdOptions, type PgdResult } from './pgd.js';
export { imageNorms, projectL2Ball, threatBall, type ThreatBall } from './ball.js';
export * from './context.js';
export * from './objectives.js';
export * from './measures.js';
export * from './attack.js';
export * from './candidate.js';
export * from './query.js';
export * from './targeted-mismatch.js';
export * from './embedding-shift.js';
export * from './learning-to-misrank.js';
export * from './greedy-top-misrank.js';
export * from './greedy-top-translocation.js';
export * from './semantics-preserving-query.js';
export * from './registry.js';
export * from './option-fields.js';
export { defineAttack } from './entry.js';
export * from './profiles.js';
export * from './methods.js';
export { eotObjective, type ObjectiveOf } from './eot.js';
export { apgd, apgdCheckpoints, APGD_MOMENTUM, APGD_RHO, type ApgdOptions, type ApgdResult } from './apgd.js';
export * from './query-only.js';
