// The explorer's DOM helpers and number formats: elements found by their
// data-testid (checked to be of the expected type), new elements whose text is
// never parsed as HTML, and the few formats the page prints numbers in.

/** The element with this data-testid, checked to be of `type`. */
export function byId<T extends Element>(id: string, type: { new (): T; prototype: T }, root: ParentNode = document): T {
  const found = root.querySelector(`[data-testid="${id}"]`);
  if (!(found instanceof type)) throw new Error(`explorer: no ${type.name} with data-testid="${id}"`);
  return found;
}

export const box = (id: string): HTMLElement => byId(id, HTMLElement);

/** A new element with a class and text (text is never parsed as HTML). */
export function make<K extends keyof HTMLElementTagNameMap>(tag: K, className?: string, text?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (className) e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

/** A measured number to four significant digits (48.2, 0.9802, 1234). */
export const num = (x: number): string => (Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(4))));

/** A budget fraction in /255 units, as the form shows it. */
export const to255 = (x: number): number => Math.round(x * 255 * 100) / 100;

/** Seconds as "1 min 05 s". */
export function duration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '';
  if (s < 60) return `${Math.ceil(s)} s`;
  const m = Math.floor(s / 60);
  return `${m} min ${String(Math.round(s - 60 * m)).padStart(2, '0')} s`;
}

/** A stored benign metric as a percentage (checkpoints store fractions). */
export const percent = (v: number): string => `${(100 * v).toFixed(1)} %`;

export const messageOf = (e: unknown): string => (e instanceof Error ? e.message : String(e));

export function showGlobalError(message: string): void {
  const b = box('global-error');
  b.textContent = message;
  b.hidden = false;
}
