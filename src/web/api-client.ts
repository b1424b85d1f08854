// The explorer's client of the service's /api (docs/service.md): fetch with
// the bearer token the tab keeps, asked for once when the server answers 401;
// errors carry the server's message; images are loaded through the same token.
import type { ErrorAnswer } from '@serve/answers.js';
import { byId } from './dom.js';

const TOKEN_KEY = 'rankshield.token';

export class ApiError extends Error {
  readonly status: number;

  constructor(message: string, status: number) {
    super(message);
    this.status = status;
  }
}

let tokenPrompt: Promise<void> | null = null;

/** Asks for the token once (concurrent 401s share the dialog) and keeps it for the tab's session. */
function askToken(): Promise<void> {
  tokenPrompt ??= new Promise((resolve) => {
    const dialog = byId('token-dialog', HTMLDialogElement);
    const input = byId('token-input', HTMLInputElement);
    dialog.addEventListener(
      'close',
      () => {
        sessionStorage.setItem(TOKEN_KEY, input.value.trim());
        tokenPrompt = null;
        resolve();
      },
      { once: true },
    );
    dialog.showModal();
    input.focus();
  });
  return tokenPrompt;
}

function authHeaders(): Record<string, string> {
  const token = sessionStorage.getItem(TOKEN_KEY);
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** fetch with the bearer token; a 401 asks for the token and retries; other failures throw an ApiError carrying the server's message. */
export async function request(path: string, init: RequestInit = {}): Promise<Response> {
  const res = await fetch(path, { ...init, headers: { ...authHeaders(), ...(init.headers ?? {}) } });
  if (res.status === 401) {
    await askToken();
    return request(path, init);
  }
  if (!res.ok) {
    let message = `${res.status} ${res.statusText}`;
    try {
      const body = (await res.json()) as Partial<ErrorAnswer>;
      if (body.error) message = body.error;
    } catch {
      // not JSON: keep the status line
    }
    throw new ApiError(message, res.status);
  }
  return res;
}

/** GET an /api answer; `T` is the route's answer type from src/serve/answers.ts. */
export async function getJson<T>(path: string): Promise<T> {
  return (await request(path)).json() as Promise<T>;
}

/** POST a JSON body to an /api route; `T` is its answer type from src/serve/answers.ts. */
export async function postJson<T>(path: string, body: unknown): Promise<T> {
  const res = await request(path, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
  return res.json() as Promise<T>;
}

/**
 * Shows an /api image. Without a token the browser loads (and caches) it
 * directly; with one, an <img> cannot send the header, so it is fetched.
 */
export function showImage(img: HTMLImageElement, url: string): void {
  if (!sessionStorage.getItem(TOKEN_KEY)) {
    img.src = url;
    return;
  }
  request(url)
    .then((r) => r.blob())
    .then((blob) => {
      const local = URL.createObjectURL(blob);
      img.addEventListener('load', () => URL.revokeObjectURL(local), { once: true });
      img.src = local;
    })
    .catch((e: unknown) => {
      img.alt = `${img.alt} (not loaded: ${e instanceof Error ? e.message : String(e)})`;
    });
}

export const galleryUrl = (id: number): string => `/api/images/gallery/${id}.png`;
