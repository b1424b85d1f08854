// A module-loader hook that re-sorts the attack catalogue: as src/attack/registry.js
// loads, ATTACKS is reversed before anything derives from it (ATTACK_KINDS, the ERS
// kinds, the column table), exactly as if the entries had been written in the
// opposite order. Registered by reversed-attacks.ts (`node --import`).
import type { LoadHook } from 'node:module';

/** The first declaration derived from ATTACKS: the catalogue is reversed just before it. */
const ANCHOR = 'export const ATTACK_KINDS';

export const load: LoadHook = async (url, context, nextLoad) => {
  const loaded = await nextLoad(url, context);
  if (!url.endsWith('/src/attack/registry.js')) return loaded;
  const source = typeof loaded.source === 'string' ? loaded.source : new TextDecoder().decode(loaded.source as Uint8Array);
  if (!source.includes(ANCHOR)) throw new Error(`reversed-attacks-hook: '${ANCHOR}' not found in ${url}; update the hook to the registry's shape`);
  return { ...loaded, source: source.replace(ANCHOR, `ATTACKS.reverse();\n${ANCHOR}`) };
};
