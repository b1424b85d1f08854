// Layer: util. The generic lookups every catalogue (datasets, models, losses,
// miners, metrics) shares: a catalogue is a list of entries with a name, and a
// name outside it is an error listing the known ones.

/** Anything a catalogue lists: an entry with its name. */
export interface Named<N extends string = string> {
  readonly name: N;
}

/** The names of a catalogue's entries, in list order. */
export function namesOf<E extends Named>(list: readonly E[]): E['name'][] {
  return list.map((e) => e.name);
}

/**
 * The entry named `name`; throws "unknown WHAT 'name' (known: a, b, c)" otherwise.
 * `known` replaces the list of names in the message where a catalogue accepts
 * more spellings than its names (aliases, a path form).
 */
export function entryByName<E extends Named>(list: readonly E[], name: string, what: string, known?: string): E {
  const found = list.find((e) => e.name === name);
  if (found === undefined) throw new Error(`unknown ${what} '${name}' (known: ${known ?? namesOf(list).join(', ')})`);
  return found;
}

/** Whether `name` is the name of an entry of `list` (narrows it to the catalogue's name type). */
export function isNameOf<E extends Named>(list: readonly E[], name: string): name is E['name'] {
  return list.some((e) => e.name === name);
}
