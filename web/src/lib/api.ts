// The API client: JSON over fetch, the access token kept in memory and refreshed silently with
// the refresh token (rotated by the API on every use), every refusal turned into an ApiError
// carrying the API's own code and message.

export interface FieldProblem {
  field: string;
  message: string;
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
  }

  /** The API's per-field validation messages (code `validation_error` and friends); some
   * refusals list bare field names there instead, already said in the message. */
  get fields(): FieldProblem[] {
    const fields = this.details.fields;
    if (!Array.isArray(fields)) return [];
    return fields.filter(
      (f): f is FieldProblem => typeof f === "object" && f !== null && "field" in f && "message" in f,
    );
  }
}

export interface TokenPair {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

export const REFRESH_KEY = "crypteras.refresh";
/** The code of a request that never got an answer (offline, server down). */
export const NETWORK_ERROR = "network_error";

/** What the app reacts to: a session that can no longer be refreshed. */
type Listener = () => void;

/** A refresh's outcome: a new access token, the API's refusal (the session is over), or no
 * answer (offline, the API restarting: the session may well be fine). */
type Refreshed = "ok" | "refused" | ApiError;

export class Api {
  private access: string | null = null;
  private refreshing: Promise<Refreshed> | null = null;
  private expiredListeners: Listener[] = [];

  constructor(
    private readonly storage: Pick<Storage, "getItem" | "setItem" | "removeItem">,
    private readonly fetcher: typeof fetch = (...args) => fetch(...args),
  ) {}

  get signedIn(): boolean {
    return this.access !== null || this.storage.getItem(REFRESH_KEY) !== null;
  }

  onExpired(listener: Listener): void {
    this.expiredListeners.push(listener);
  }

  start(tokens: TokenPair): void {
    this.access = tokens.access_token;
    this.storage.setItem(REFRESH_KEY, tokens.refresh_token);
  }

  forget(): void {
    this.access = null;
    this.storage.removeItem(REFRESH_KEY);
  }

  async login(email: string, password: string): Promise<void> {
    this.start(await this.request<TokenPair>("POST", "/api/auth/login", { email, password }, false));
  }

  async logout(): Promise<void> {
    const refresh = this.storage.getItem(REFRESH_KEY);
    try {
      if (refresh) await this.request("POST", "/api/auth/logout", { refresh_token: refresh }, false);
    } finally {
      this.forget();
    }
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>("GET", path);
  }

  post<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("POST", path, body);
  }

  put<T>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("PUT", path, body);
  }

  delete<T>(path: string): Promise<T> {
    return this.request<T>("DELETE", path);
  }

  /** The session is over (here, or logged out in another tab): forgotten, and the app told (it
   * sends the user to log in). */
  end(error?: ApiError): ApiError {
    this.forget();
    for (const listener of this.expiredListeners) listener();
    return error ?? new ApiError(401, "session_expired", "Your session has ended; log in again.");
  }

  /** One refresh at a time: the API rotates the refresh token and sees a second use of one as
   * a stolen token, revoking the whole login. Parallel requests of this tab share one refresh;
   * other tabs (sharing the token in localStorage) wait on a Web Lock and then read the token
   * the first one stored. */
  private refresh(): Promise<Refreshed> {
    const locks = typeof navigator === "undefined" ? undefined : navigator.locks;
    // The DOM typing nests the callback's promise; the lock resolves to its value.
    const run = (): Promise<Refreshed> =>
      locks ? (locks.request("crypteras-refresh", () => this.doRefresh()) as unknown as Promise<Refreshed>) : this.doRefresh();
    const refreshing =
      this.refreshing ??
      run().finally(() => {
        this.refreshing = null;
      });
    this.refreshing = refreshing;
    return refreshing;
  }

  private async doRefresh(): Promise<Refreshed> {
    const refresh = this.storage.getItem(REFRESH_KEY);
    if (!refresh) return "refused";
    try {
      this.start(
        await this.request<TokenPair>("POST", "/api/auth/refresh", { refresh_token: refresh }, false),
      );
      return "ok";
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      return error.status === 0 || error.status >= 500 ? error : "refused";
    }
  }

  /** A usable session, or the reason there is none: an ended session is forgotten (and the app
   * told); an unreachable API leaves it as it is. */
  private async renewed(refusal?: Response): Promise<void> {
    const outcome = await this.refresh();
    if (outcome === "ok") return;
    if (outcome === "refused") throw this.end(refusal ? await errorOf(refusal) : undefined);
    throw outcome;
  }

  async request<T>(method: string, path: string, body?: unknown, authed = true): Promise<T> {
    if (authed && this.access === null) await this.renewed();
    let response = await this.send(method, path, body, authed);
    if (authed && response.status === 401) {
      await this.renewed(response);
      response = await this.send(method, path, body, authed);
      if (response.status === 401) throw this.end(await errorOf(response));
    }
    if (!response.ok) throw await errorOf(response);
    if (response.status === 204) return undefined as T;
    const type = response.headers.get("content-type") ?? "";
    return (type.includes("json") ? await response.json() : await response.blob()) as T;
  }

  private async send(method: string, path: string, body: unknown, authed: boolean): Promise<Response> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (authed && this.access) headers.Authorization = `Bearer ${this.access}`;
    try {
      return await this.fetcher(path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, NETWORK_ERROR, "The server could not be reached.");
    }
  }
}

/** The API's `{"error": {code, message, details}}`, or a plain description of anything else
 * (a proxy's HTML page, a dropped connection): never the raw body. */
export async function errorOf(response: Response): Promise<ApiError> {
  try {
    const { error } = await response.json();
    if (error && typeof error.code === "string" && typeof error.message === "string") {
      return new ApiError(response.status, error.code, error.message, error.details ?? {});
    }
  } catch {
    // not JSON: described below
  }
  return new ApiError(response.status, "http_error", `${response.status} ${response.statusText}`);
}

export const api = new Api(localStorage);
