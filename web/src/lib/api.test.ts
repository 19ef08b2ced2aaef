import { describe, expect, it } from "vitest";
import { Api, ApiError, NETWORK_ERROR } from "./api";

function memory(): Storage {
  const items = new Map<string, string>();
  return {
    getItem: (k: string) => items.get(k) ?? null,
    setItem: (k: string, v: string) => void items.set(k, v),
    removeItem: (k: string) => void items.delete(k),
  } as Storage;
}

const json = (status: number, body: unknown) =>
  new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

/** A server whose access tokens are "access-N"; only the newest one is accepted. */
function server() {
  const state = { issued: 0, refreshes: 0, revoked: false };
  const fetcher = (async (path: string, init: RequestInit) => {
    const auth = (init.headers as Record<string, string>).Authorization;
    if (path === "/api/auth/refresh") {
      state.refreshes += 1;
      if (state.revoked) return json(401, { error: { code: "invalid_token", message: "Session ended." } });
      state.issued += 1;
      return json(200, { access_token: `access-${state.issued}`, refresh_token: `refresh-${state.issued}`, expires_in: 900 });
    }
    if (auth !== `Bearer access-${state.issued}`) return json(401, { error: { code: "token_expired", message: "expired" } });
    return json(200, { path });
  }) as typeof fetch;
  return { state, fetcher };
}

describe("Api", () => {
  it("refreshes once for parallel requests that met an expired token", async () => {
    const { state, fetcher } = server();
    const api = new Api(memory(), fetcher);
    api.start({ access_token: "stale", refresh_token: "refresh-0", expires_in: 900 });
    const answers = await Promise.all([api.get("/a"), api.get("/b"), api.get("/c")]);
    expect(answers).toEqual([{ path: "/a" }, { path: "/b" }, { path: "/c" }]);
    expect(state.refreshes).toBe(1);
  });

  it("tells the app when the session cannot be refreshed, and forgets it", async () => {
    const { state, fetcher } = server();
    state.revoked = true;
    const storage = memory();
    const api = new Api(storage, fetcher);
    api.start({ access_token: "stale", refresh_token: "refresh-0", expires_in: 900 });
    let expired = 0;
    api.onExpired(() => (expired += 1));
    await expect(api.get("/a")).rejects.toMatchObject({ status: 401, code: "token_expired" });
    expect(expired).toBe(1);
    expect(api.signedIn).toBe(false);
    expect(storage.getItem("crypteras.refresh")).toBeNull();
  });

  it("keeps the session when the API cannot be reached to refresh it", async () => {
    const storage = memory();
    const api = new Api(storage, (async () => {
      throw new TypeError("Failed to fetch");
    }) as typeof fetch);
    api.start({ access_token: "stale", refresh_token: "refresh-0", expires_in: 900 });
    api.forget();
    storage.setItem("crypteras.refresh", "refresh-0");
    let expired = 0;
    api.onExpired(() => (expired += 1));
    await expect(api.get("/a")).rejects.toMatchObject({ code: NETWORK_ERROR });
    expect(expired).toBe(0);
    expect(storage.getItem("crypteras.refresh")).toBe("refresh-0");
  });

  it("turns the API's error body into its code, message and field problems", async () => {
    const fields = [{ field: "config.order_amount", message: "must be positive", type: "value_error" }];
    const api = new Api(memory(), (async () =>
      json(422, { error: { code: "invalid_config", message: "The config is not valid.", details: { fields } } })) as typeof fetch);
    const error = await api.request("POST", "/api/bots", {}, false).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).message).toBe("The config is not valid.");
    expect((error as ApiError).fields).toEqual(fields);
  });

  it("describes a non-JSON answer and a dropped connection without their raw bodies", async () => {
    const html = new Api(memory(), (async () => new Response("<html>Bad gateway</html>", { status: 502, statusText: "Bad Gateway" })) as typeof fetch);
    await expect(html.request("GET", "/x", undefined, false)).rejects.toMatchObject({ code: "http_error", message: "502 Bad Gateway" });
    const offline = new Api(memory(), (async () => {
      throw new TypeError("Failed to fetch");
    }) as typeof fetch);
    await expect(offline.request("GET", "/x", undefined, false)).rejects.toMatchObject({ code: NETWORK_ERROR });
  });
});
