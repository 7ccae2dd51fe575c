// The portal's only way to the server: Iris' public REST API on the same origin, `Authorization: Key <PAT>`, exactly as
// any other client calls it. Responses are Clarifai JSON (snake_case, status envelope).

export interface Status {
  code: number;
  description?: string;
  details?: string;
  percent_completed?: number;
}

export class ApiError extends Error {
  constructor(
    public readonly status: Status,
    public readonly httpStatus: number,
  ) {
    super(`${status.code} ${status.description ?? ''}${status.details ? ': ' + status.details : ''}`);
  }
}

const PAT_KEY = 'iris.pat';
const USER_KEY = 'iris.user';

export interface Session {
  pat: string;
  userId: string;
}

export function loadSession(): Session | null {
  const pat = sessionStorage.getItem(PAT_KEY);
  const userId = sessionStorage.getItem(USER_KEY);
  return pat && userId ? { pat, userId } : null;
}

export function saveSession(session: Session | null): void {
  if (session) {
    sessionStorage.setItem(PAT_KEY, session.pat);
    sessionStorage.setItem(USER_KEY, session.userId);
  } else {
    sessionStorage.removeItem(PAT_KEY);
    sessionStorage.removeItem(USER_KEY);
  }
}

let current: Session | null = loadSession();

export function session(): Session {
  if (!current) throw new Error('not signed in');
  return current;
}

export function setSession(s: Session | null): void {
  current = s;
  saveSession(s);
}

export type Query = Record<string, string | number | boolean | (string | number)[] | undefined>;

/** GET query string the way the official JSON client encodes it: repeated keys for lists, dots for nesting. */
export function queryString(query?: Query): string {
  if (!query) return '';
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) {
    if (value === undefined) continue;
    if (Array.isArray(value)) value.forEach((v) => params.append(key, String(v)));
    else params.append(key, String(value));
  }
  const text = params.toString();
  return text ? '?' + text : '';
}

/** Calls the API; resolves with the JSON body when status.code is 10000 (or one of `accept`), else throws ApiError. */
export async function api<T = any>(method: string, path: string, body?: unknown, options: { pat?: string; accept?: number[]; signal?: AbortSignal } = {}): Promise<T> {
  const pat = options.pat ?? session().pat;
  const response = await fetch(path, {
    method,
    headers: { Authorization: `Key ${pat}`, Accept: 'application/json', ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: options.signal,
  });
  let json: any;
  try {
    json = await response.json();
  } catch {
    throw new ApiError({ code: 0, description: `HTTP ${response.status}`, details: 'The server did not answer JSON.' }, response.status);
  }
  const status: Status = json?.status ?? { code: 0, description: `HTTP ${response.status}` };
  if (status.code !== 10000 && !(options.accept ?? []).includes(status.code)) throw new ApiError(status, response.status);
  return json as T;
}

/** `/v2/users/{user}/apps/{app}` for the signed-in user's app. */
export function appPath(app: string, user?: string): string {
  return `/v2/users/${encodeURIComponent(user ?? session().userId)}/apps/${encodeURIComponent(app)}`;
}

export function describe(error: unknown): string {
  if (error instanceof ApiError) {
    const s = error.status;
    return `${s.code} ${s.description ?? ''}${s.details ? ' — ' + s.details : ''}`.trim();
  }
  return error instanceof Error ? error.message : String(error);
}

/** Hosted image bytes need the same Authorization header; fetched and shown as a blob: URL. Same origin only. */
export function hostedPath(url: string): string {
  try {
    const parsed = new URL(url, location.origin);
    return parsed.pathname + parsed.search;
  } catch {
    return url;
  }
}

export interface HostedImage {
  prefix: string;
  suffix: string;
  sizes?: string[];
}

export function hostedUrl(hosted: HostedImage | undefined, size: 'small' | 'orig'): string | null {
  if (!hosted?.prefix || !hosted.suffix) return null;
  const chosen = hosted.sizes?.includes(size) ? size : hosted.sizes?.[0] ?? size;
  return `${hostedPath(hosted.prefix)}/${chosen}/${hosted.suffix}`;
}

// At most this many image downloads at once, so a grid of 1,000 inputs does not open 1,000 requests.
const MAX_IMAGE_FETCHES = 6;
let running = 0;
const waiting: (() => void)[] = [];

export async function fetchImage(path: string, signal?: AbortSignal): Promise<Blob> {
  if (running >= MAX_IMAGE_FETCHES) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    signal?.throwIfAborted();
    const response = await fetch(path, { headers: { Authorization: `Key ${session().pat}` }, signal });
    if (!response.ok) throw new Error(`image: HTTP ${response.status}`);
    return await response.blob();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

export function fileToBase64(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => {
      const text = String(reader.result);
      resolve(text.slice(text.indexOf(',') + 1));
    };
    reader.onerror = () => reject(reader.error ?? new Error('could not read the file'));
    reader.readAsDataURL(file);
  });
}

/** POST with upload progress (fetch has none): resolves with the JSON body whatever its status. */
export function postWithProgress(path: string, body: string, onProgress: (fraction: number) => void): Promise<{ httpStatus: number; json: any }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', path);
    xhr.setRequestHeader('Authorization', `Key ${session().pat}`);
    xhr.setRequestHeader('Content-Type', 'application/json');
    xhr.setRequestHeader('Accept', 'application/json');
    xhr.upload.onprogress = (e) => {
      if (e.lengthComputable) onProgress(e.loaded / e.total);
    };
    xhr.onload = () => {
      try {
        resolve({ httpStatus: xhr.status, json: JSON.parse(xhr.responseText) });
      } catch {
        reject(new Error(`HTTP ${xhr.status}: not JSON`));
      }
    };
    xhr.onerror = () => reject(new Error('network error'));
    xhr.send(body);
  });
}

export const STATUS_NAMES: Record<number, string> = {
  30000: 'success',
  30001: 'pending',
  30002: 'failed',
  30003: 'in progress',
  21100: 'trained',
  21101: 'training',
  21102: 'not trained',
  21103: 'queued for training',
  21110: 'no data',
  21111: 'not enough positives',
  21117: 'no negatives',
  21300: 'evaluated',
  21301: 'evaluating',
  21303: 'queued for evaluation',
  21315: 'too few concepts',
  21316: 'too few inputs per concept',
};

/** An input's processing state: success, pending, in progress, or failed (30002 and every other 30xxx error). */
export function inputState(code: number | undefined): string {
  if (code === 30000) return 'success';
  if (code === 30001) return 'pending';
  if (code === 30003) return 'in progress';
  return code === undefined ? 'unknown' : 'failed';
}

export function statusName(code: number | undefined): string {
  return code === undefined ? 'unknown' : STATUS_NAMES[code] ?? String(code);
}
