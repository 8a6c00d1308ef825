// The console's access to the server: the token (from `?token=` in the URL, else localStorage, else the login
// prompt), JSON requests with `Authorization: Bearer`, and URLs for WebSockets, <img> and <video>, which
// cannot send headers and carry `?token=` instead.

const STORAGE_KEY = "panoptes.token";
let token = null;
let onUnauthorized = () => {};

/** Read the token once at start: a `?token=` in the URL wins (and is removed from the address bar). */
export function loadToken() {
  const url = new URL(location.href);
  const fromUrl = url.searchParams.get("token");
  if (fromUrl) {
    localStorage.setItem(STORAGE_KEY, fromUrl);
    url.searchParams.delete("token");
    history.replaceState(null, "", url);
  }
  token = localStorage.getItem(STORAGE_KEY);
  return token;
}

export function setToken(value) {
  token = value || null;
  if (token) localStorage.setItem(STORAGE_KEY, token);
  else localStorage.removeItem(STORAGE_KEY);
}

/** Called on any 401 (missing or unknown token): the app shows its login prompt. */
export function whenUnauthorized(f) {
  onUnauthorized = f;
}

/** An HTTP error with the server's message (`{"error": ...}`) and status. */
export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** `fetch` with the token; resolves the Response when it is 2xx, else throws an ApiError. */
export async function request(path, { method = "GET", body, headers = {} } = {}) {
  const h = { ...headers };
  if (token) h.Authorization = `Bearer ${token}`;
  if (body !== undefined) h["Content-Type"] = "application/json";
  const resp = await fetch(path, {
    method,
    headers: h,
    body: body === undefined ? undefined : JSON.stringify(body),
    cache: "no-store",
  });
  if (resp.ok) return resp;
  let message = `${method} ${path}: HTTP ${resp.status}`;
  try {
    const j = await resp.json();
    if (j && j.error) message = `${method} ${path}: ${j.error}`;
  } catch {
    /* not JSON: keep the status line */
  }
  if (resp.status === 401) onUnauthorized(message);
  throw new ApiError(resp.status, message);
}

/** A JSON request; `null` for a 204. */
export async function api(path, options) {
  const resp = await request(path, options);
  return resp.status === 204 ? null : resp.json();
}

/** `path` with `token=` added, for <img>, <video> and WebSocket URLs. */
export function withToken(path) {
  if (!token) return path;
  return `${path}${path.includes("?") ? "&" : "?"}token=${encodeURIComponent(token)}`;
}

/** A WebSocket URL on this server for `path`, carrying the token. */
export function wsUrl(path) {
  const proto = location.protocol === "https:" ? "wss" : "ws";
  return `${proto}://${location.host}${withToken(path)}`;
}

/** Path segment escaping for camera, zone and rule ids. */
export const seg = encodeURIComponent;
