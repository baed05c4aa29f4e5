// The Parcours HTTP API, from the page's own origin. The key lives in sessionStorage: this tab only.
const KEY = 'parcours.key';
// The page is served at <api>/console, so the API is the page's folder (a stage prefix on AWS included).
const BASE = new URL('.', document.baseURI);

export class ApiError extends Error {
  constructor(status, body) {
    const error = body && typeof body === 'object' ? body.error || {} : {};
    super(error.message || `HTTP ${status}`);
    this.status = status;
    this.code = error.code || 'error';
    this.details = Array.isArray(error.details) ? error.details : [];
  }
}

export const key = () => sessionStorage.getItem(KEY);
export const signIn = (value) => sessionStorage.setItem(KEY, value);
export const signOut = () => sessionStorage.removeItem(KEY);

export async function call(method, path, body, query) {
  const url = new URL(path.replace(/^\//, ''), BASE);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== null && value !== undefined && value !== '') url.searchParams.set(name, value);
  }
  const headers = { Authorization: `Bearer ${key() || ''}`, Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const response = await fetch(url, {
    method, headers, cache: 'no-store', credentials: 'omit',
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  let data = null;
  if (text) {
    try { data = JSON.parse(text); } catch { data = text; }
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const get = (path, query) => call('GET', path, undefined, query);
export const post = (path, body, query) => call('POST', path, body === undefined ? {} : body, query);
export const put = (path, body) => call('PUT', path, body);

// A resource that may not exist (yet): null on 404, the error otherwise.
export async function maybe(path, query) {
  try {
    return await get(path, query);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) return null;
    throw error;
  }
}
