// Layer: serve. Every default and limit of `rankshield serve`, in one place
// (the CLI's usage text, the request schemas and docs/service.md quote them).

/** Where and how the service runs unless flags say otherwise. */
export const SERVE_DEFAULTS = {
  host: '127.0.0.1',
  port: 8080,
  /** Worker processes, each with the model loaded: jobs that run at once. */
  concurrency: 1,
  /** Jobs waiting for a worker; one more is refused with 429. */
  maxQueued: 8,
} as const;

/** What one request may ask for. */
export const LIMITS = {
  /** Request bodies (JSON; an uploaded image travels base64-encoded inside). */
  bodyBytes: 4 * 1024 * 1024,
  /** Of a body refused for its size, bytes read and dropped before answering (so the client reads the 413). */
  drainBytes: 16 * 1024 * 1024,
  /** Decoded size of an uploaded image (width × height), checked before decoding its pixels. */
  imagePixels: 4096 * 4096,
  /** Neighbours a search or an attack returns (k). */
  maxK: 100,
  defaultK: 10,
  /** Gallery page size. */
  maxPageSize: 500,
  defaultPageSize: 60,
  /** PGD iterations of one attack request. */
  maxSteps: 200,
  /** Candidates (QA±, SPQA±: M) or queries (CA±: W) given with one attack. */
  maxCandidates: 10,
  /** Attack results whose images stay available (least recently used dropped first). */
  keptResults: 64,
  /** Finished swipe jobs whose results stay available (oldest dropped first). */
  keptJobs: 32,
  /** Encoded gallery PNGs kept in memory. */
  cachedImages: 2048,
  /** A bearer token shorter than this is refused at start-up. */
  minTokenLength: 16,
} as const;

/** The largest seed a request may give (libtorch seeds are mixed from it, data/random.ts). */
export const MAX_SEED = 2 ** 31 - 1;
