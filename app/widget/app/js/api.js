// The service's JSON API as the widget calls it: the signed-in user's session as the bearer
// token, and errors turned into two kinds the pages can explain — an RFC 9457 problem, or no
// answer at all. A 401 means the session is over: it is forgotten, and the page asks the user
// to sign in again.

const TIMEOUT_MS = 30000;

/** The service answered with an error; `problem` is its problem+json body (or one made up). */
export class ApiProblem extends Error {
  constructor(status, problem) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.status = status;
    this.problem = problem;
  }

  get code() {
    return this.problem.code ?? "";
  }
}

/** The request never got an answer (offline, DNS, CORS refusal, timeout). */
export class NetworkFailure extends Error {}

async function problemOf(response) {
  const type = response.headers.get("content-type") ?? "";
  if (type.includes("json")) {
    try {
      const body = await response.json();
      if (body && typeof body === "object") return { status: response.status, ...body };
    } catch {
      // An unreadable body is described below like any non-JSON answer.
    }
  }
  return {
    status: response.status,
    title: response.statusText || "Unexpected answer",
    detail: `The service answered with an unexpected error (HTTP ${response.status}).`,
    code: `http_${response.status}`,
  };
}

export function createApiClient({ apiBase, session, onUnauthenticated }) {
  async function call(method, path, body) {
    const headers = {
      Accept: "application/json, application/problem+json",
      Authorization: `Bearer ${session.token}`,
    };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), TIMEOUT_MS);
    let response;
    try {
      response = await fetch(apiBase + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        credentials: "omit",
        cache: "no-store",
        signal: abort.signal,
      });
    } catch (error) {
      throw new NetworkFailure(error?.name === "AbortError" ? "timed out" : String(error));
    } finally {
      clearTimeout(timer);
    }
    if (response.status === 401) onUnauthenticated?.();
    if (!response.ok) throw new ApiProblem(response.status, await problemOf(response));
    if (response.status === 204) return { status: 204, body: null };
    try {
      return { status: response.status, body: await response.json() };
    } catch {
      throw new ApiProblem(response.status, {
        status: response.status,
        title: "Unreadable answer",
        detail: "The service's answer could not be read. Try again in a moment.",
        code: "unreadable_answer",
      });
    }
  }

  return {
    get: (path) => call("GET", path),
    post: (path, body = {}) => call("POST", path, body),
    session,
  };
}

/** A path segment from an id that came from the CRM or the URL. */
export function segment(id) {
  return encodeURIComponent(String(id));
}
