// ../../clients/ts/node_modules/openapi-fetch/dist/index.mjs
var PATH_PARAM_RE = /\{[^{}]+\}/g;
var supportsRequestInitExt = () => {
  return typeof process === "object" && Number.parseInt(process?.versions?.node?.substring(0, 2)) >= 18 && process.versions.undici;
};
function randomID() {
  return Math.random().toString(36).slice(2, 11);
}
function createClient(clientOptions) {
  let {
    baseUrl = "",
    Request: CustomRequest = globalThis.Request,
    fetch: baseFetch = globalThis.fetch,
    querySerializer: globalQuerySerializer,
    bodySerializer: globalBodySerializer,
    pathSerializer: globalPathSerializer,
    headers: baseHeaders,
    requestInitExt = void 0,
    ...baseOptions
  } = { ...clientOptions };
  requestInitExt = supportsRequestInitExt() ? requestInitExt : void 0;
  baseUrl = removeTrailingSlash(baseUrl);
  const globalMiddlewares = [];
  async function coreFetch(schemaPath, fetchOptions) {
    const {
      baseUrl: localBaseUrl,
      fetch: fetch2 = baseFetch,
      Request = CustomRequest,
      headers,
      params = {},
      parseAs = "json",
      querySerializer: requestQuerySerializer,
      bodySerializer = globalBodySerializer ?? defaultBodySerializer,
      pathSerializer: requestPathSerializer,
      body,
      middleware: requestMiddlewares = [],
      ...init
    } = fetchOptions || {};
    let finalBaseUrl = baseUrl;
    if (localBaseUrl) {
      finalBaseUrl = removeTrailingSlash(localBaseUrl) ?? baseUrl;
    }
    let querySerializer = typeof globalQuerySerializer === "function" ? globalQuerySerializer : createQuerySerializer(globalQuerySerializer);
    if (requestQuerySerializer) {
      querySerializer = typeof requestQuerySerializer === "function" ? requestQuerySerializer : createQuerySerializer({
        ...typeof globalQuerySerializer === "object" ? globalQuerySerializer : {},
        ...requestQuerySerializer
      });
    }
    const pathSerializer = requestPathSerializer || globalPathSerializer || defaultPathSerializer;
    const serializedBody = body === void 0 ? void 0 : bodySerializer(
      body,
      // Note: we declare mergeHeaders() both here and below because it’s a bit of a chicken-or-egg situation:
      // bodySerializer() needs all headers so we aren’t dropping ones set by the user, however,
      // the result of this ALSO sets the lowest-priority content-type header. So we re-merge below,
      // setting the content-type at the very beginning to be overwritten.
      // Lastly, based on the way headers work, it’s not a simple “present-or-not” check becauase null intentionally un-sets headers.
      mergeHeaders(baseHeaders, headers, params.header)
    );
    const finalHeaders = mergeHeaders(
      // with no body, we should not to set Content-Type
      serializedBody === void 0 || // if serialized body is FormData; browser will correctly set Content-Type & boundary expression
      serializedBody instanceof FormData ? {} : {
        "Content-Type": "application/json"
      },
      baseHeaders,
      headers,
      params.header
    );
    const finalMiddlewares = [...globalMiddlewares, ...requestMiddlewares];
    const requestInit = {
      redirect: "follow",
      ...baseOptions,
      ...init,
      body: serializedBody,
      headers: finalHeaders
    };
    let id;
    let options;
    let request = new Request(
      createFinalURL(schemaPath, { baseUrl: finalBaseUrl, params, querySerializer, pathSerializer }),
      requestInit
    );
    let response;
    for (const key in init) {
      if (!(key in request)) {
        request[key] = init[key];
      }
    }
    if (finalMiddlewares.length) {
      id = randomID();
      options = Object.freeze({
        baseUrl: finalBaseUrl,
        fetch: fetch2,
        parseAs,
        querySerializer,
        bodySerializer,
        pathSerializer
      });
      for (const m of finalMiddlewares) {
        if (m && typeof m === "object" && typeof m.onRequest === "function") {
          const result = await m.onRequest({
            request,
            schemaPath,
            params,
            options,
            id
          });
          if (result) {
            if (result instanceof Request) {
              request = result;
            } else if (result instanceof Response) {
              response = result;
              break;
            } else {
              throw new Error("onRequest: must return new Request() or Response() when modifying the request");
            }
          }
        }
      }
    }
    if (!response) {
      try {
        response = await fetch2(request, requestInitExt);
      } catch (error2) {
        let errorAfterMiddleware = error2;
        if (finalMiddlewares.length) {
          for (let i = finalMiddlewares.length - 1; i >= 0; i--) {
            const m = finalMiddlewares[i];
            if (m && typeof m === "object" && typeof m.onError === "function") {
              const result = await m.onError({
                request,
                error: errorAfterMiddleware,
                schemaPath,
                params,
                options,
                id
              });
              if (result) {
                if (result instanceof Response) {
                  errorAfterMiddleware = void 0;
                  response = result;
                  break;
                }
                if (result instanceof Error) {
                  errorAfterMiddleware = result;
                  continue;
                }
                throw new Error("onError: must return new Response() or instance of Error");
              }
            }
          }
        }
        if (errorAfterMiddleware) {
          throw errorAfterMiddleware;
        }
      }
      if (finalMiddlewares.length) {
        for (let i = finalMiddlewares.length - 1; i >= 0; i--) {
          const m = finalMiddlewares[i];
          if (m && typeof m === "object" && typeof m.onResponse === "function") {
            const result = await m.onResponse({
              request,
              response,
              schemaPath,
              params,
              options,
              id
            });
            if (result) {
              if (!(result instanceof Response)) {
                throw new Error("onResponse: must return new Response() when modifying the response");
              }
              response = result;
            }
          }
        }
      }
    }
    const contentLength = response.headers.get("Content-Length");
    if (response.status === 204 || request.method === "HEAD" || contentLength === "0" && !response.headers.get("Transfer-Encoding")?.includes("chunked")) {
      return response.ok ? { data: void 0, response } : { error: void 0, response };
    }
    if (response.ok) {
      const getResponseData = async () => {
        if (parseAs === "stream") {
          return response.body;
        }
        if (parseAs === "json" && !contentLength) {
          const raw = await response.text();
          return raw ? JSON.parse(raw) : void 0;
        }
        return await response[parseAs]();
      };
      return { data: await getResponseData(), response };
    }
    let error = await response.text();
    try {
      error = JSON.parse(error);
    } catch {
    }
    return { error, response };
  }
  return {
    request(method, url, init) {
      return coreFetch(url, { ...init, method: method.toUpperCase() });
    },
    /** Call a GET endpoint */
    GET(url, init) {
      return coreFetch(url, { ...init, method: "GET" });
    },
    /** Call a PUT endpoint */
    PUT(url, init) {
      return coreFetch(url, { ...init, method: "PUT" });
    },
    /** Call a POST endpoint */
    POST(url, init) {
      return coreFetch(url, { ...init, method: "POST" });
    },
    /** Call a DELETE endpoint */
    DELETE(url, init) {
      return coreFetch(url, { ...init, method: "DELETE" });
    },
    /** Call a OPTIONS endpoint */
    OPTIONS(url, init) {
      return coreFetch(url, { ...init, method: "OPTIONS" });
    },
    /** Call a HEAD endpoint */
    HEAD(url, init) {
      return coreFetch(url, { ...init, method: "HEAD" });
    },
    /** Call a PATCH endpoint */
    PATCH(url, init) {
      return coreFetch(url, { ...init, method: "PATCH" });
    },
    /** Call a TRACE endpoint */
    TRACE(url, init) {
      return coreFetch(url, { ...init, method: "TRACE" });
    },
    /** Register middleware */
    use(...middleware) {
      for (const m of middleware) {
        if (!m) {
          continue;
        }
        if (typeof m !== "object" || !("onRequest" in m || "onResponse" in m || "onError" in m)) {
          throw new Error("Middleware must be an object with one of `onRequest()`, `onResponse() or `onError()`");
        }
        globalMiddlewares.push(m);
      }
    },
    /** Unregister middleware */
    eject(...middleware) {
      for (const m of middleware) {
        const i = globalMiddlewares.indexOf(m);
        if (i !== -1) {
          globalMiddlewares.splice(i, 1);
        }
      }
    }
  };
}
function serializePrimitiveParam(name, value, options) {
  if (value === void 0 || value === null) {
    return "";
  }
  if (typeof value === "object") {
    throw new Error(
      "Deeply-nested arrays/objects aren’t supported. Provide your own `querySerializer()` to handle these."
    );
  }
  return `${name}=${options?.allowReserved === true ? value : encodeURIComponent(value)}`;
}
function serializeObjectParam(name, value, options) {
  if (!value || typeof value !== "object") {
    return "";
  }
  const values = [];
  const joiner = {
    simple: ",",
    label: ".",
    matrix: ";"
  }[options.style] || "&";
  if (options.style !== "deepObject" && options.explode === false) {
    for (const k in value) {
      values.push(k, options.allowReserved === true ? value[k] : encodeURIComponent(value[k]));
    }
    const final2 = values.join(",");
    switch (options.style) {
      case "form": {
        return `${name}=${final2}`;
      }
      case "label": {
        return `.${final2}`;
      }
      case "matrix": {
        return `;${name}=${final2}`;
      }
      default: {
        return final2;
      }
    }
  }
  for (const k in value) {
    const finalName = options.style === "deepObject" ? `${name}[${k}]` : k;
    values.push(serializePrimitiveParam(finalName, value[k], options));
  }
  const final = values.join(joiner);
  return options.style === "label" || options.style === "matrix" ? `${joiner}${final}` : final;
}
function serializeArrayParam(name, value, options) {
  if (!Array.isArray(value)) {
    return "";
  }
  if (options.explode === false) {
    const joiner2 = { form: ",", spaceDelimited: "%20", pipeDelimited: "|" }[options.style] || ",";
    const final = (options.allowReserved === true ? value : value.map((v) => encodeURIComponent(v))).join(joiner2);
    switch (options.style) {
      case "simple": {
        return final;
      }
      case "label": {
        return `.${final}`;
      }
      case "matrix": {
        return `;${name}=${final}`;
      }
      // case "spaceDelimited":
      // case "pipeDelimited":
      default: {
        return `${name}=${final}`;
      }
    }
  }
  const joiner = { simple: ",", label: ".", matrix: ";" }[options.style] || "&";
  const values = [];
  for (const v of value) {
    if (options.style === "simple" || options.style === "label") {
      values.push(options.allowReserved === true ? v : encodeURIComponent(v));
    } else {
      values.push(serializePrimitiveParam(name, v, options));
    }
  }
  return options.style === "label" || options.style === "matrix" ? `${joiner}${values.join(joiner)}` : values.join(joiner);
}
function createQuerySerializer(options) {
  return function querySerializer(queryParams) {
    const search = [];
    if (queryParams && typeof queryParams === "object") {
      for (const name in queryParams) {
        const value = queryParams[name];
        if (value === void 0 || value === null) {
          continue;
        }
        if (Array.isArray(value)) {
          if (value.length === 0) {
            continue;
          }
          search.push(
            serializeArrayParam(name, value, {
              style: "form",
              explode: true,
              ...options?.array,
              allowReserved: options?.allowReserved || false
            })
          );
          continue;
        }
        if (typeof value === "object") {
          search.push(
            serializeObjectParam(name, value, {
              style: "deepObject",
              explode: true,
              ...options?.object,
              allowReserved: options?.allowReserved || false
            })
          );
          continue;
        }
        search.push(serializePrimitiveParam(name, value, options));
      }
    }
    return search.join("&");
  };
}
function defaultPathSerializer(pathname, pathParams) {
  let nextURL = pathname;
  for (const match of pathname.match(PATH_PARAM_RE) ?? []) {
    let name = match.substring(1, match.length - 1);
    let explode = false;
    let style = "simple";
    if (name.endsWith("*")) {
      explode = true;
      name = name.substring(0, name.length - 1);
    }
    if (name.startsWith(".")) {
      style = "label";
      name = name.substring(1);
    } else if (name.startsWith(";")) {
      style = "matrix";
      name = name.substring(1);
    }
    if (!pathParams || pathParams[name] === void 0 || pathParams[name] === null) {
      continue;
    }
    const value = pathParams[name];
    if (Array.isArray(value)) {
      nextURL = nextURL.replace(match, serializeArrayParam(name, value, { style, explode }));
      continue;
    }
    if (typeof value === "object") {
      nextURL = nextURL.replace(match, serializeObjectParam(name, value, { style, explode }));
      continue;
    }
    if (style === "matrix") {
      nextURL = nextURL.replace(match, `;${serializePrimitiveParam(name, value)}`);
      continue;
    }
    nextURL = nextURL.replace(match, style === "label" ? `.${encodeURIComponent(value)}` : encodeURIComponent(value));
  }
  return nextURL;
}
function defaultBodySerializer(body, headers) {
  if (body instanceof FormData) {
    return body;
  }
  if (headers) {
    const contentType = headers.get instanceof Function ? headers.get("Content-Type") ?? headers.get("content-type") : headers["Content-Type"] ?? headers["content-type"];
    if (contentType === "application/x-www-form-urlencoded") {
      return new URLSearchParams(body).toString();
    }
  }
  return JSON.stringify(body);
}
function createFinalURL(pathname, options) {
  let finalURL = `${options.baseUrl}${pathname}`;
  if (options.params?.path) {
    finalURL = options.pathSerializer(finalURL, options.params.path);
  }
  let search = options.querySerializer(options.params.query ?? {});
  if (search.startsWith("?")) {
    search = search.substring(1);
  }
  if (search) {
    finalURL += `?${search}`;
  }
  return finalURL;
}
function mergeHeaders(...allHeaders) {
  const finalHeaders = new Headers();
  for (const h2 of allHeaders) {
    if (!h2 || typeof h2 !== "object") {
      continue;
    }
    const iterator = h2 instanceof Headers ? h2.entries() : Object.entries(h2);
    for (const [k, v] of iterator) {
      if (v === null) {
        finalHeaders.delete(k);
      } else if (Array.isArray(v)) {
        for (const v2 of v) {
          finalHeaders.append(k, v2);
        }
      } else if (v !== void 0) {
        finalHeaders.set(k, v);
      }
    }
  }
  return finalHeaders;
}
function removeTrailingSlash(url) {
  if (url.endsWith("/")) {
    return url.substring(0, url.length - 1);
  }
  return url;
}

// ../../clients/ts/src/token.ts
async function resolveToken(source) {
  return typeof source === "function" ? await source() : source;
}

// ../../clients/ts/src/client.ts
function createParleyClient(options) {
  const client = createClient({
    baseUrl: trimSlash(options.baseUrl),
    ...options.fetch ? { fetch: options.fetch } : {},
    // GET /v1/presence takes user_ids comma separated (form style, explode false).
    querySerializer: { array: { style: "form", explode: false } }
  });
  client.use(bearerAuth(options.token));
  return client;
}
function bearerAuth(token) {
  return {
    async onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${await resolveToken(token)}`);
      return request;
    }
  };
}
var ParleyError = class extends Error {
  status;
  /** The problem+json body; undefined when the answer had none (such as a plain-text 431). */
  problem;
  response;
  constructor(response, body) {
    const problem = isProblem(body) ? body : void 0;
    super(problem ? `${problem.status} ${problem.code}: ${problem.detail ?? problem.title}` : `HTTP ${response.status}`);
    this.name = "ParleyError";
    this.status = response.status;
    this.problem = problem;
    this.response = response;
  }
  /** The problem's machine-readable code, such as `not_found`. */
  get code() {
    return this.problem?.code;
  }
};
async function unwrap(answer) {
  const { data, error, response } = await answer;
  if (!response.ok) {
    throw new ParleyError(response, error);
  }
  return data;
}
function isProblem(body) {
  if (typeof body !== "object" || body === null) {
    return false;
  }
  const p = body;
  return typeof p.type === "string" && typeof p.title === "string" && typeof p.status === "number" && typeof p.code === "string";
}
function trimSlash(url) {
  return url.replace(/\/+$/, "");
}

// ../../clients/ts/src/backoff.ts
var defaultBackoff = {
  initialMs: 500,
  maxMs: 3e4,
  rateLimitedMinMs: 1e4
};
function resolveBackoff(options = {}) {
  const b = { ...defaultBackoff, ...dropUndefined(options) };
  if (!(b.initialMs > 0) || !(b.maxMs >= b.initialMs) || !(b.rateLimitedMinMs >= 0)) {
    throw new RangeError(`backoff: need 0 < initialMs <= maxMs and rateLimitedMinMs >= 0, got ${JSON.stringify(b)}`);
  }
  return b;
}
function reconnectDelay(attempt, backoff, rateLimited = false, random = Math.random) {
  const exponent = Math.min(Math.max(attempt, 0), 52);
  const base = Math.min(backoff.maxMs, backoff.initialMs * 2 ** exponent);
  let delay = base / 2 + random() * base / 2;
  if (rateLimited) {
    delay = Math.max(delay, backoff.rateLimitedMinMs * (1 + random() / 2));
  }
  return Math.round(delay);
}
function dropUndefined(o) {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== void 0));
}

// ../../clients/ts/src/cursors.ts
var MemoryCursorStore = class {
  cursors = /* @__PURE__ */ new Map();
  constructor(initial = {}) {
    for (const [id, seq] of Object.entries(initial)) {
      this.cursors.set(id, seq);
    }
  }
  get() {
    return Object.fromEntries(this.cursors);
  }
  set(conversationId, seq) {
    this.cursors.set(conversationId, seq);
  }
};
var LocalStorageCursorStore = class {
  constructor(key, storage) {
    this.key = key;
    const chosen = storage ?? globalThis.localStorage;
    if (!chosen) {
      throw new Error("LocalStorageCursorStore: no localStorage here; pass a storage");
    }
    this.storage = chosen;
  }
  key;
  storage;
  get() {
    const raw = this.storage.getItem(this.key);
    if (raw === null) {
      return {};
    }
    try {
      const parsed = JSON.parse(raw);
      const cursors = {};
      if (typeof parsed === "object" && parsed !== null) {
        for (const [id, seq] of Object.entries(parsed)) {
          if (Number.isSafeInteger(seq) && seq >= 0) {
            cursors[id] = seq;
          }
        }
      }
      return cursors;
    } catch {
      return {};
    }
  }
  // set reads the stored object afresh and never moves a cursor back: other tabs may share the
  // key, and one with an older view must not undo what another received.
  set(conversationId, seq) {
    const cursors = this.get();
    cursors[conversationId] = Math.max(cursors[conversationId] ?? 0, seq);
    this.storage.setItem(this.key, JSON.stringify(cursors));
  }
};

// ../../clients/ts/src/emitter.ts
var Emitter = class {
  constructor(onHandlerError) {
    this.onHandlerError = onHandlerError;
  }
  onHandlerError;
  handlers = /* @__PURE__ */ new Map();
  on(name, handler) {
    let set = this.handlers.get(name);
    if (!set) {
      set = /* @__PURE__ */ new Set();
      this.handlers.set(name, set);
    }
    set.add(handler);
    return () => {
      set.delete(handler);
    };
  }
  emit(name, arg) {
    const set = this.handlers.get(name);
    if (!set) {
      return;
    }
    for (const handler of [...set]) {
      try {
        handler(arg);
      } catch (err) {
        this.onHandlerError(err);
      }
    }
  }
};

// ../../clients/ts/src/sequencer.ts
var maxCatchupRounds = 3;
var Sequencer = class {
  constructor(opts) {
    this.opts = opts;
  }
  opts;
  cursors = /* @__PURE__ */ new Map();
  catchups = /* @__PURE__ */ new Map();
  /** The cursors to resume with. */
  snapshot() {
    return Object.fromEntries(this.cursors);
  }
  cursor(conversationId) {
    return this.cursors.get(conversationId);
  }
  /** load merges stored cursors in; a cursor never moves back. */
  load(cursors) {
    for (const [id, seq] of Object.entries(cursors)) {
      if (Number.isSafeInteger(seq) && seq >= 0 && seq > (this.cursors.get(id) ?? -1)) {
        this.cursors.set(id, seq);
      }
    }
  }
  /** track starts following a conversation from afterSeq, unless it is followed already. */
  track(conversationId, afterSeq) {
    if (this.cursors.has(conversationId)) {
      return false;
    }
    this.advance(conversationId, afterSeq);
    return true;
  }
  /** offer takes an event from the socket (replayed or live). */
  offer(event) {
    const id = event.conversation_id;
    const catchup = this.catchups.get(id);
    if (catchup) {
      catchup.held.push(event);
      return;
    }
    const cursor = this.cursors.get(id);
    if (cursor === void 0 || event.seq === cursor + 1) {
      this.pass(event);
    } else if (event.seq > cursor + 1) {
      this.catchUp(id, [event]);
    }
  }
  /** resync pages a conversation's log after afterSeq, as the server asked. */
  resync(conversationId, afterSeq) {
    if (this.catchups.has(conversationId)) {
      return;
    }
    this.track(conversationId, afterSeq);
    this.catchUp(conversationId, []);
  }
  /** reset stops every catch-up: the connection is gone, and the next resume brings the rest. */
  reset() {
    for (const catchup of this.catchups.values()) {
      catchup.abort.abort();
    }
    this.catchups.clear();
  }
  /** catchingUp says whether a conversation is being paged. */
  catchingUp(conversationId) {
    return this.catchups.has(conversationId);
  }
  catchUp(conversationId, held) {
    const catchup = { held, abort: new AbortController() };
    this.catchups.set(conversationId, catchup);
    void this.runCatchup(conversationId, catchup);
  }
  async runCatchup(id, catchup) {
    const signal = catchup.abort.signal;
    try {
      for (let round = 1; ; round++) {
        await this.pageToEnd(id, signal);
        if (signal.aborted) {
          return;
        }
        const held = catchup.held.sort((a, b) => a.seq - b.seq);
        catchup.held = [];
        for (const event of held) {
          if (signal.aborted) {
            return;
          }
          const cursor = this.cursors.get(id) ?? 0;
          if (event.seq === cursor + 1) {
            this.pass(event);
          } else if (event.seq > cursor + 1) {
            catchup.held.push(event);
          }
        }
        if (catchup.held.length === 0) {
          this.catchups.delete(id);
          return;
        }
        if (round >= maxCatchupRounds) {
          throw new Error(`conversation ${id}: the event log has no seq ${(this.cursors.get(id) ?? 0) + 1} though later ones arrived`);
        }
      }
    } catch (err) {
      if (signal.aborted) {
        return;
      }
      this.catchups.delete(id);
      this.opts.fault(err, !isGone(err));
    }
  }
  async pageToEnd(id, signal) {
    for (; ; ) {
      const page = await this.opts.page(id, this.cursors.get(id) ?? 0, signal);
      if (signal.aborted) {
        return;
      }
      for (const event of page.items) {
        if (signal.aborted) {
          return;
        }
        const cursor = this.cursors.get(id) ?? 0;
        if (event.seq === cursor + 1) {
          this.pass(event);
        } else if (event.seq > cursor + 1) {
          throw new Error(`conversation ${id}: the event log jumps from seq ${cursor} to ${event.seq}`);
        }
      }
      if (!page.has_more || page.items.length === 0) {
        return;
      }
    }
  }
  pass(event) {
    this.advance(event.conversation_id, event.seq);
    this.opts.deliver(event);
  }
  advance(conversationId, seq) {
    this.cursors.set(conversationId, seq);
    this.opts.persist(conversationId, seq);
  }
};
function isGone(err) {
  return typeof err === "object" && err !== null && err.status === 404;
}

// ../../clients/ts/src/websocket.ts
var subprotocol = "parley.v1";
var OPEN = 1;
function handshakeStatus(event) {
  const e = event;
  for (const text of [e?.message, e?.error?.message]) {
    if (typeof text === "string") {
      const m = /Unexpected server response: (\d{3})/.exec(text);
      if (m) {
        return Number(m[1]);
      }
    }
  }
  return void 0;
}
function socketURL(baseUrl, token) {
  const url = new URL(baseUrl.replace(/\/+$/, "") + "/v1/ws");
  if (url.protocol === "http:") {
    url.protocol = "ws:";
  } else if (url.protocol === "https:") {
    url.protocol = "wss:";
  }
  url.searchParams.set("access_token", token);
  return url.toString();
}

// ../../clients/ts/src/socket.ts
var clientDropCode = 4e3;
var ParleySocket = class {
  baseUrl;
  token;
  /** Counts setToken calls: a refusal of a token replaced since is no reason to stop. */
  tokenVersion = 0;
  api;
  store;
  WebSocketClass;
  backoff;
  pageSize;
  connectTimeoutMs;
  emitter;
  sequencer;
  currentState = "idle";
  ws;
  /** Counts connection attempts; a stale callback of an older one checks it and does nothing. */
  generation = 0;
  attempt = 0;
  cursorsLoaded = false;
  reconnectTimer;
  connectTimer;
  heartbeatTimer;
  heartbeatMs = 0;
  lastHeard = 0;
  heartbeatPing;
  pingCounter = 0;
  pings = /* @__PURE__ */ new Map();
  presenceUsers;
  reporting = false;
  constructor(options) {
    this.baseUrl = options.baseUrl;
    this.token = options.token;
    this.api = options.api ?? createParleyClient({ baseUrl: options.baseUrl, token: () => resolveToken(this.token) });
    this.store = options.cursors ?? new MemoryCursorStore();
    const WebSocketClass = options.WebSocket ?? globalThis.WebSocket;
    if (!WebSocketClass) {
      throw new Error("ParleySocket: no global WebSocket here; pass one (such as the ws package's) as the WebSocket option");
    }
    this.WebSocketClass = WebSocketClass;
    this.backoff = resolveBackoff(options.backoff);
    this.pageSize = options.pageSize ?? 200;
    this.connectTimeoutMs = options.connectTimeoutMs ?? 15e3;
    this.emitter = new Emitter((err) => this.report(err));
    this.sequencer = new Sequencer({
      deliver: (event) => this.emitter.emit("event", event),
      persist: (id, seq) => this.persist(id, seq),
      page: (id, after, signal) => this.pageEvents(id, after, signal),
      fault: (err, reconnect) => {
        this.report(err);
        if (reconnect) {
          this.drop("event log catch-up failed");
        }
      }
    });
  }
  get state() {
    return this.currentState;
  }
  /** on adds a handler and returns the function that removes it. */
  on(name, handler) {
    return this.emitter.on(name, handler);
  }
  /** connect starts the socket; it reconnects by itself until close(). */
  connect() {
    if (this.currentState === "closed") {
      throw new Error("ParleySocket: closed for good; make a new one");
    }
    if (this.currentState !== "idle") {
      return;
    }
    this.setState("connecting");
    void this.open();
  }
  /** close ends the socket for good: no reconnect. */
  close() {
    if (this.currentState === "closed") {
      return;
    }
    this.generation++;
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = void 0;
    const ws = this.ws;
    this.endConnection(new Error("socket closed"));
    this.setState("closed");
    if (ws) {
      detach(ws);
      ws.close(1e3, "client closed");
      this.emitter.emit("close", { code: 1e3, reason: "client closed" });
    }
  }
  /**
   * setToken replaces the token for the next connections. After the server refused the token
   * (state "unauthorized") the socket connects again at once.
   */
  setToken(token) {
    this.token = token;
    this.tokenVersion++;
    if (this.currentState === "unauthorized") {
      this.attempt = 0;
      this.setState("reconnecting");
      void this.open();
    }
  }
  /**
   * track follows a conversation from afterSeq (default 0) when the socket has no cursor for it
   * yet, so that its events are replayed after a reconnect even if none arrived before: for a
   * conversation just created or loaded over HTTP (pass its `last_seq`).
   */
  track(conversationId, afterSeq = 0) {
    this.sequencer.track(conversationId, afterSeq);
  }
  /** The seq of the last event handed on per conversation: what the next resume asks after. */
  cursors() {
    return this.sequencer.snapshot();
  }
  /** typing tells the conversation's other members the user is typing (dropped when not open). */
  typing(conversationId) {
    this.sendIfOpen({ type: "typing", conversation_id: conversationId });
  }
  /** subscribePresence watches these users, replacing the set watched; sent again after every reconnect. */
  subscribePresence(userIds) {
    this.presenceUsers = [...userIds];
    this.sendIfOpen({ type: "presence.subscribe", user_ids: this.presenceUsers });
  }
  /** ping measures the round trip of an application ping, in milliseconds. */
  ping() {
    const ws = this.ws;
    if (this.currentState !== "open" || !ws) {
      return Promise.reject(new Error("ParleySocket: not open"));
    }
    const id = `p${++this.pingCounter}`;
    return new Promise((resolve, reject) => {
      this.pings.set(id, { sentAt: performance.now(), resolve, reject });
      this.send(ws, { type: "ping", id });
    });
  }
  // Connecting.
  async open() {
    const generation = ++this.generation;
    const tokenVersion = this.tokenVersion;
    let token;
    try {
      if (!this.cursorsLoaded) {
        this.sequencer.load(await this.store.get());
        this.cursorsLoaded = true;
      }
      token = await resolveToken(this.token);
    } catch (err) {
      if (generation === this.generation) {
        this.report(err);
        this.retry(false);
      }
      return;
    }
    if (generation !== this.generation) {
      return;
    }
    let ws;
    try {
      ws = new this.WebSocketClass(socketURL(this.baseUrl, token), subprotocol);
    } catch (err) {
      this.report(err);
      this.retry(false);
      return;
    }
    this.ws = ws;
    this.connectTimer = setTimeout(() => {
      if (this.ws === ws) {
        this.drop("no ready in time");
      }
    }, this.connectTimeoutMs);
    let opened = false;
    let status;
    ws.onopen = () => {
      opened = true;
    };
    ws.onerror = (event) => {
      status ??= handshakeStatus(event);
    };
    ws.onmessage = (event) => {
      if (this.ws === ws) {
        this.receive(ws, event.data);
      }
    };
    ws.onclose = (event) => {
      if (this.ws !== ws) {
        return;
      }
      const info = { code: event.code ?? 1006, reason: event.reason ?? "" };
      this.ws = void 0;
      this.endConnection(new Error(`connection closed (${info.code})`));
      this.emitter.emit("close", info);
      void this.afterClose(generation, tokenVersion, info, opened, status);
    };
  }
  /** afterClose decides what follows a connection's end: wait for a token, or try again. */
  async afterClose(generation, tokenVersion, info, opened, status) {
    if (!opened && status === void 0) {
      this.setState("reconnecting");
      status = await this.probeToken();
      if (generation !== this.generation || this.currentState === "closed") {
        return;
      }
    }
    if ((info.code === 4401 || status === 401) && tokenVersion === this.tokenVersion) {
      this.setState("unauthorized");
      return;
    }
    this.retry(info.code === 4429 || status === 429);
  }
  /** probeToken answers 401 when Parley refuses the token, else undefined. */
  async probeToken() {
    try {
      const { response } = await this.api.GET("/v1/me", { signal: AbortSignal.timeout(this.connectTimeoutMs) });
      return response.status === 401 ? 401 : void 0;
    } catch {
      return void 0;
    }
  }
  retry(rateLimited) {
    if (this.currentState === "closed") {
      return;
    }
    this.setState("reconnecting");
    const delay = reconnectDelay(this.attempt++, this.backoff, rateLimited);
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = void 0;
      void this.open();
    }, delay);
  }
  /** drop ends the current connection from this side and reconnects. */
  drop(reason) {
    const ws = this.ws;
    if (!ws) {
      return;
    }
    this.ws = void 0;
    detach(ws);
    const terminate = ws.terminate;
    if (typeof terminate === "function") {
      terminate.call(ws);
    } else {
      ws.close(clientDropCode, reason);
    }
    this.endConnection(new Error(`connection dropped: ${reason}`));
    this.emitter.emit("close", { code: clientDropCode, reason });
    this.retry(false);
  }
  /** endConnection forgets what belonged to the connection that ended. */
  endConnection(cause) {
    clearTimeout(this.connectTimer);
    this.connectTimer = void 0;
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = void 0;
    this.heartbeatPing = void 0;
    this.sequencer.reset();
    for (const ping of this.pings.values()) {
      ping.reject(cause);
    }
    this.pings.clear();
  }
  // Frames.
  receive(ws, data) {
    this.lastHeard = Date.now();
    let frame;
    try {
      frame = JSON.parse(typeof data === "string" ? data : String(data));
    } catch (err) {
      this.report(new Error(`unreadable frame: ${String(err)}`));
      return;
    }
    switch (frame.type) {
      case "ready":
        this.onReady(ws, frame);
        return;
      case "event":
        this.sequencer.offer(frame.event);
        return;
      case "resumed":
        this.attempt = 0;
        this.emitter.emit("resumed", frame);
        return;
      case "resync":
        this.sequencer.resync(frame.conversation_id, frame.after_seq);
        return;
      case "typing":
        this.emitter.emit("typing", frame);
        return;
      case "read":
        this.emitter.emit("read", frame);
        return;
      case "presence":
        this.emitter.emit("presence", frame);
        return;
      case "pong":
        this.onPong(frame.id);
        return;
      case "error":
        this.emitter.emit("error", frame);
        return;
      default:
        return;
    }
  }
  onReady(ws, frame) {
    clearTimeout(this.connectTimer);
    this.connectTimer = void 0;
    this.send(ws, { type: "resume", cursors: this.sequencer.snapshot() });
    if (this.presenceUsers) {
      this.send(ws, { type: "presence.subscribe", user_ids: this.presenceUsers });
    }
    this.startHeartbeat(ws, frame.heartbeat_ms);
    this.setState("open");
    this.emitter.emit("ready", frame);
  }
  onPong(id) {
    if (id === void 0) {
      return;
    }
    if (id === this.heartbeatPing) {
      this.heartbeatPing = void 0;
      return;
    }
    const ping = this.pings.get(id);
    if (ping) {
      this.pings.delete(id);
      ping.resolve(performance.now() - ping.sentAt);
    }
  }
  /**
   * startHeartbeat watches for a dead connection: after heartbeat_ms of silence it sends a ping
   * (the server's own pings are invisible to a browser), and after twice that it gives up on the
   * connection and reconnects.
   */
  startHeartbeat(ws, heartbeatMs) {
    this.heartbeatMs = heartbeatMs > 0 ? heartbeatMs : 25e3;
    this.lastHeard = Date.now();
    clearInterval(this.heartbeatTimer);
    this.heartbeatTimer = setInterval(() => {
      if (this.ws !== ws) {
        return;
      }
      const silent = Date.now() - this.lastHeard;
      if (silent >= 2 * this.heartbeatMs) {
        this.drop("heartbeat timeout");
      } else if (silent >= this.heartbeatMs && this.heartbeatPing === void 0) {
        this.heartbeatPing = `hb${++this.pingCounter}`;
        this.send(ws, { type: "ping", id: this.heartbeatPing });
      }
    }, Math.max(50, Math.floor(this.heartbeatMs / 4)));
  }
  sendIfOpen(frame) {
    if (this.currentState === "open" && this.ws) {
      this.send(this.ws, frame);
    }
  }
  send(ws, frame) {
    if (ws.readyState !== OPEN) {
      return;
    }
    try {
      ws.send(JSON.stringify(frame));
    } catch (err) {
      this.report(err);
    }
  }
  // Helpers.
  /**
   * pageEvents reads one page of the log. A page that takes longer than a connection may take to
   * get ready fails (and the socket reconnects): a request into a dead network never ends.
   */
  async pageEvents(conversationId, afterSeq, signal) {
    const bounded = new AbortController();
    const abort = () => bounded.abort();
    const timer = setTimeout(() => bounded.abort(new Error("event log page timed out")), this.connectTimeoutMs);
    signal.addEventListener("abort", abort, { once: true });
    try {
      const { data, error, response } = await this.api.GET("/v1/conversations/{conversation_id}/events", {
        params: { path: { conversation_id: conversationId }, query: { after_seq: afterSeq, limit: this.pageSize } },
        signal: bounded.signal
      });
      if (!data) {
        throw new ParleyError(response, error);
      }
      return data;
    } finally {
      clearTimeout(timer);
      signal.removeEventListener("abort", abort);
    }
  }
  persist(conversationId, seq) {
    try {
      const done = this.store.set(conversationId, seq);
      if (done instanceof Promise) {
        done.catch((err) => this.report(err));
      }
    } catch (err) {
      this.report(err);
    }
  }
  setState(state) {
    if (this.currentState !== state) {
      this.currentState = state;
      this.emitter.emit("state", state);
    }
  }
  report(err) {
    if (this.reporting) {
      return;
    }
    this.reporting = true;
    try {
      this.emitter.emit("clientError", err);
    } finally {
      this.reporting = false;
    }
  }
};
function detach(ws) {
  const ignore = () => {
  };
  ws.onopen = ignore;
  ws.onmessage = ignore;
  ws.onclose = ignore;
  ws.onerror = ignore;
}

// src/actions.ts
function messageActions(ctx, conversationId, openThread) {
  const path = (m) => ({ conversation_id: conversationId, seq: m.seq });
  return {
    me: ctx.me,
    openThread,
    react(m, emoji) {
      const mine = (m.my_reactions ?? []).includes(emoji);
      const params = { params: { path: { ...path(m), emoji } } };
      const req = mine ? ctx.api.DELETE("/v1/conversations/{conversation_id}/messages/{seq}/reactions/{emoji}", params) : ctx.api.PUT("/v1/conversations/{conversation_id}/messages/{seq}/reactions/{emoji}", params);
      unwrap(req).catch((err) => ctx.fail("React", err));
    },
    edit(m, body) {
      unwrap(ctx.api.PATCH("/v1/conversations/{conversation_id}/messages/{seq}", { params: { path: path(m) }, body: { body } })).catch((err) => ctx.fail("Edit", err));
    },
    remove(m) {
      unwrap(ctx.api.DELETE("/v1/conversations/{conversation_id}/messages/{seq}", { params: { path: path(m) } })).catch((err) => ctx.fail("Delete", err));
    }
  };
}
async function send(ctx, conversationId, body, clientMsgId, replyTo) {
  return unwrap(ctx.api.POST("/v1/conversations/{conversation_id}/messages", {
    params: { path: { conversation_id: conversationId } },
    body: { client_msg_id: clientMsgId, body, ...replyTo ? { reply_to_seq: replyTo } : {} }
  }));
}
async function markRead(ctx, conversationId, seq) {
  await unwrap(ctx.api.PUT("/v1/conversations/{conversation_id}/read", { params: { path: { conversation_id: conversationId } }, body: { seq } }));
}

// src/dom.ts
function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === void 0 || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") {
      el.addEventListener(key.slice(2), value);
    } else if (key === "value" && "value" in el) {
      el.value = String(value);
    } else {
      el.setAttribute(key, value === true ? "" : String(value));
    }
  }
  append(el, children);
  return el;
}
function append(el, children) {
  for (const child of children) {
    if (Array.isArray(child)) append(el, child);
    else if (child === null || child === void 0 || child === false) continue;
    else el.append(child instanceof Node ? child : String(child));
  }
}
function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
}
function timeOf(rfc3339) {
  return new Date(rfc3339).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}
function hue(name) {
  let n = 0;
  for (const ch of name) n = (n * 31 + ch.codePointAt(0)) % 360;
  return n;
}
function avatar(user2, online) {
  return h(
    "span",
    { class: "avatar", style: `--hue:${hue(user2)}`, title: user2 },
    user2.slice(0, 1).toUpperCase(),
    online === void 0 ? null : h("span", { class: online ? "dot online" : "dot", "data-testid": "presence", "data-user": user2, "data-status": online ? "online" : "offline" })
  );
}

// src/composer.ts
function composer(o) {
  const input = h("input", { class: "composer-input", "data-testid": `${o.testid}-input`, placeholder: o.placeholder, autocomplete: "off", maxlength: 4e3, "aria-label": o.placeholder });
  const button = h("button", { type: "submit", "data-testid": `${o.testid}-send` }, "Send");
  let pending;
  input.addEventListener("input", () => o.typing?.());
  return h("form", {
    class: "composer",
    onsubmit: async (e) => {
      e.preventDefault();
      const body = input.value.trim();
      if (!body) return;
      if (pending?.body !== body) pending = { body, id: crypto.randomUUID() };
      button.disabled = true;
      try {
        await o.send(body, pending.id);
        pending = void 0;
        input.value = "";
      } catch {
      } finally {
        button.disabled = false;
        input.focus();
      }
    }
  }, input, button);
}

// src/fetching.ts
async function allConversations(api) {
  const items = [];
  let cursor;
  do {
    const page = await unwrap(api.GET("/v1/conversations", { params: { query: { limit: 100, ...cursor ? { cursor } : {} } } }));
    items.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return items;
}
async function members(api, conversationId) {
  const list = await unwrap(api.GET("/v1/conversations/{conversation_id}/members", { params: { path: { conversation_id: conversationId } } }));
  return list.items;
}
async function lastSeq(api, conversationId) {
  const conv = await unwrap(api.GET("/v1/conversations/{conversation_id}", { params: { path: { conversation_id: conversationId } } }));
  return conv.last_seq;
}
async function asOf(api, conversationId, read) {
  for (let attempt = 1; ; attempt++) {
    const before = await lastSeq(api, conversationId);
    const value = await read();
    const after = await lastSeq(api, conversationId);
    if (before === after || attempt === 5) return { value, at: before };
  }
}
async function roots(api, conversationId, beforeSeq) {
  return unwrap(api.GET("/v1/conversations/{conversation_id}/messages", {
    params: { path: { conversation_id: conversationId }, query: { roots_only: true, limit: 50, ...beforeSeq ? { before_seq: beforeSeq } : {} } }
  }));
}
async function allReplies(api, conversationId, rootSeq) {
  const items = [];
  let after = 0;
  for (; ; ) {
    const page = await unwrap(api.GET("/v1/conversations/{conversation_id}/messages/{seq}/replies", {
      params: { path: { conversation_id: conversationId, seq: rootSeq }, query: { after_seq: after, limit: 200 } }
    }));
    items.push(...page.items);
    if (!page.has_more || page.items.length === 0) return items;
    after = page.items[page.items.length - 1].seq;
  }
}

// src/message-view.ts
var quickReactions = ["👍", "❤️", "😂", "🎉"];
function renderMessage(m, act) {
  const mine = m.sender_id === act.me;
  const deleted = Boolean(m.deleted_at);
  const el = h(
    "article",
    { class: `message${mine ? " mine" : ""}${deleted ? " deleted" : ""}`, "data-testid": "message", "data-seq": m.seq, "data-sender": m.sender_id, "data-deleted": deleted },
    avatar(m.sender_id),
    h(
      "div",
      { class: "bubble" },
      h(
        "header",
        {},
        h("span", { class: "sender" }, m.sender_id),
        h("time", { datetime: m.created_at }, timeOf(m.created_at)),
        m.edited_at && !deleted ? h("span", { class: "edited", "data-testid": "edited" }, "edited") : null
      ),
      deleted ? h("p", { class: "body tombstone", "data-testid": "message-body" }, "This message was deleted.") : h("p", { class: "body", "data-testid": "message-body" }, m.body),
      deleted ? null : reactions(m, act),
      act.openThread && m.reply_count > 0 ? h("button", { class: "thread-link", "data-testid": "reply-count", onclick: () => act.openThread(m) }, `${m.reply_count} ${m.reply_count === 1 ? "reply" : "replies"}`) : null
    ),
    deleted ? null : actions(m, mine, act)
  );
  return el;
}
function reactions(m, act) {
  if (m.reactions.length === 0) return null;
  const my = new Set(m.my_reactions ?? []);
  return h("div", { class: "reactions" }, m.reactions.map((r) => h(
    "button",
    { class: my.has(r.emoji) ? "chip mine" : "chip", "data-testid": "reaction", "data-emoji": r.emoji, "data-count": r.count, title: my.has(r.emoji) ? "Remove your reaction" : "React", onclick: () => act.react(m, r.emoji) },
    `${r.emoji} ${r.count}`
  )));
}
function actions(m, mine, act) {
  return h(
    "div",
    { class: "actions" },
    quickReactions.map((emoji) => h("button", { "data-testid": "react", "data-emoji": emoji, title: `React ${emoji}`, onclick: () => act.react(m, emoji) }, emoji)),
    act.openThread ? h("button", { "data-testid": "reply", title: "Reply in thread", onclick: () => act.openThread(m) }, "Reply") : null,
    mine ? h("button", { "data-testid": "edit", title: "Edit", onclick: (e) => startEdit(e, m, act) }, "Edit") : null,
    mine ? h("button", { "data-testid": "delete", title: "Delete", onclick: () => act.remove(m) }, "Delete") : null
  );
}
function startEdit(e, m, act) {
  const article = e.currentTarget.closest("article");
  const body = article.querySelector(".body");
  const input = h("input", { class: "edit-input", "data-testid": "edit-input", value: m.body, "aria-label": "Edit message" });
  let editing = true;
  const restore = () => {
    if (!editing) return;
    editing = false;
    input.replaceWith(body);
  };
  input.addEventListener("keydown", (k) => {
    if (k.key === "Escape") restore();
    if (k.key === "Enter" && input.value.trim() !== "") {
      const text = input.value.trim();
      restore();
      body.textContent = text;
      act.edit(m, text);
    }
  });
  input.addEventListener("blur", restore);
  body.replaceWith(input);
  input.focus();
  input.select();
}

// src/message-list.ts
var MessageList = class {
  // scroller is the element that scrolls: el itself or one around it.
  constructor(el, act, scroller = el) {
    this.el = el;
    this.act = act;
    this.scroller = scroller;
  }
  el;
  act;
  scroller;
  rendered = /* @__PURE__ */ new Map();
  // update shows `messages` (ascending) and redraws the seqs in `changed`.
  update(messages, changed) {
    const stick = this.nearBottom();
    const wanted = new Set(messages.map((m) => m.seq));
    for (const [seq, el] of this.rendered) {
      if (!wanted.has(seq)) {
        el.remove();
        this.rendered.delete(seq);
      }
    }
    messages.forEach((m, i) => {
      let el = this.rendered.get(m.seq);
      if (!el || changed.has(m.seq)) {
        if (el?.querySelector(".edit-input")) return;
        const next = renderMessage(m, this.act);
        el?.replaceWith(next);
        el = next;
        this.rendered.set(m.seq, el);
      }
      if (this.el.children[i] !== el) this.el.insertBefore(el, this.el.children[i] ?? null);
    });
    if (stick) this.scroller.scrollTop = this.scroller.scrollHeight;
  }
  nearBottom() {
    const s = this.scroller;
    return s.scrollHeight - s.scrollTop - s.clientHeight < 80;
  }
};

// src/thread-view.ts
var ThreadView = class {
  constructor(ctx, timeline, rootSeq, close, typing, redraw) {
    this.ctx = ctx;
    this.timeline = timeline;
    this.rootSeq = rootSeq;
    this.redraw = redraw;
    const act = messageActions(ctx, timeline.conversationId);
    const listEl = h("div", { class: "messages", "data-testid": "thread-messages" });
    const rootEl = h("div", { class: "thread-root", "data-testid": "thread-root" });
    this.rootList = new MessageList(rootEl, act);
    this.list = new MessageList(listEl, act);
    this.el = h(
      "aside",
      { class: "thread", "data-testid": "thread", "data-root": rootSeq },
      h("header", {}, h("h2", {}, "Thread"), h("button", { class: "close", "data-testid": "thread-close", title: "Close thread", onclick: close }, "×")),
      rootEl,
      listEl,
      composer({
        testid: "thread",
        placeholder: "Reply…",
        typing,
        send: async (body, id) => {
          try {
            this.redraw(this.timeline.add(await send(ctx, timeline.conversationId, body, id, rootSeq)));
          } catch (err) {
            ctx.fail("Reply", err);
            throw err;
          }
        }
      })
    );
  }
  ctx;
  timeline;
  rootSeq;
  redraw;
  el;
  rootList;
  list;
  // load fetches the replies as of a known seq into the timeline.
  async load() {
    const { value, at } = await asOf(this.ctx.api, this.timeline.conversationId, () => allReplies(this.ctx.api, this.timeline.conversationId, this.rootSeq));
    this.redraw(this.timeline.merge(value, at));
  }
  // update redraws what changed among the root and its replies.
  update(changed) {
    const root2 = this.timeline.get(this.rootSeq);
    this.rootList.update(root2 ? [root2] : [], changed);
    this.list.update(this.timeline.replies(this.rootSeq), changed);
  }
};

// src/timeline.ts
var Timeline = class _Timeline {
  constructor(conversationId, me) {
    this.conversationId = conversationId;
    this.me = me;
  }
  conversationId;
  me;
  messages = /* @__PURE__ */ new Map();
  // The events seen since the conversation was opened, to re-apply after a snapshot lands:
  // an event about a message the page did not know yet is dropped when it arrives.
  seen = [];
  static keepEvents = 1e3;
  hasOlder = false;
  get(seq) {
    return this.messages.get(seq)?.msg;
  }
  // roots are the messages of the main list, oldest first.
  roots() {
    return [...this.messages.values()].map((e) => e.msg).filter((m) => m.reply_to_seq === void 0 || m.reply_to_seq === null).sort((a, b) => a.seq - b.seq);
  }
  replies(root2) {
    return [...this.messages.values()].map((e) => e.msg).filter((m) => m.reply_to_seq === root2).sort((a, b) => a.seq - b.seq);
  }
  oldestRootSeq() {
    return this.roots()[0]?.seq;
  }
  // merge takes messages as of the conversation's seq `at` and replays the events seen since.
  // It returns the seqs whose rendering may have changed.
  merge(page, at) {
    const changed = /* @__PURE__ */ new Set();
    for (const m of page) {
      const known = this.messages.get(m.seq);
      if (!known || known.at < at) {
        this.messages.set(m.seq, { msg: m, at });
        changed.add(m.seq);
      }
    }
    for (const ev of this.seen) for (const seq of this.applyOnce(ev)) changed.add(seq);
    return changed;
  }
  // add records a message the page itself just sent (its seq is that of its creation event).
  add(m) {
    if (this.messages.has(m.seq)) return /* @__PURE__ */ new Set();
    this.messages.set(m.seq, { msg: m, at: m.seq });
    const changed = /* @__PURE__ */ new Set([m.seq]);
    if (m.reply_to_seq) this.bumpRoot(m.reply_to_seq, m.seq, 1, m.created_at, changed);
    return changed;
  }
  apply(ev) {
    this.seen.push(ev);
    if (this.seen.length > _Timeline.keepEvents) this.seen.splice(0, this.seen.length - _Timeline.keepEvents);
    return this.applyOnce(ev);
  }
  applyOnce(ev) {
    const changed = /* @__PURE__ */ new Set();
    switch (ev.type) {
      case "message.created": {
        const m = ev.message;
        if (this.messages.has(m.seq)) break;
        this.messages.set(m.seq, { msg: m, at: ev.seq });
        changed.add(m.seq);
        if (m.reply_to_seq) this.bumpRoot(m.reply_to_seq, ev.seq, 1, m.created_at, changed);
        break;
      }
      case "message.updated":
      case "message.deleted": {
        const m = ev.message;
        const known = this.messages.get(m.seq);
        if (!known || known.at >= ev.seq) break;
        const wasDeleted = Boolean(known.msg.deleted_at);
        known.msg = { ...m, my_reactions: ev.type === "message.deleted" ? [] : known.msg.my_reactions };
        known.at = ev.seq;
        changed.add(m.seq);
        if (ev.type === "message.deleted" && !wasDeleted && m.reply_to_seq) this.bumpRoot(m.reply_to_seq, ev.seq, -1, void 0, changed);
        break;
      }
      case "reaction.added":
      case "reaction.removed": {
        const r = ev.reaction;
        const known = this.messages.get(r.message_seq);
        if (!known || known.at >= ev.seq) break;
        known.at = ev.seq;
        known.msg = withReaction(known.msg, r.emoji, ev.type === "reaction.added" ? 1 : -1, r.user_id === this.me);
        changed.add(r.message_seq);
        break;
      }
    }
    return changed;
  }
  // bumpRoot counts a reply created (+1) or deleted (-1) on its root, once.
  bumpRoot(rootSeq, evSeq, by, at, changed) {
    const root2 = this.messages.get(rootSeq);
    if (!root2 || root2.at >= evSeq) return;
    root2.at = evSeq;
    root2.msg = { ...root2.msg, reply_count: Math.max(0, root2.msg.reply_count + by), last_reply_at: at ?? root2.msg.last_reply_at };
    changed.add(rootSeq);
  }
};
function withReaction(m, emoji, by, mine) {
  const reactions2 = m.reactions.map((r) => ({ ...r }));
  const i = reactions2.findIndex((r) => r.emoji === emoji);
  if (i >= 0) reactions2[i].count += by;
  else if (by > 0) reactions2.push({ emoji, count: by });
  let my = m.my_reactions ?? [];
  if (mine) my = by > 0 ? [.../* @__PURE__ */ new Set([...my, emoji])] : my.filter((e) => e !== emoji);
  return { ...m, reactions: reactions2.filter((r) => r.count > 0), my_reactions: my };
}

// src/typing.ts
var showFor = 4e3;
var typingEvery = 2e3;
var TypingLine = class {
  el = h("div", { class: "typing", "data-testid": "typing", "aria-live": "polite" });
  timers = /* @__PURE__ */ new Map();
  typing(user2) {
    clearTimeout(this.timers.get(user2));
    this.timers.set(user2, setTimeout(() => this.done(user2), showFor));
    this.render();
  }
  done(user2) {
    clearTimeout(this.timers.get(user2));
    if (this.timers.delete(user2)) this.render();
  }
  stop() {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }
  render() {
    const users = [...this.timers.keys()];
    this.el.textContent = users.length === 0 ? "" : users.length === 1 ? `${users[0]} is typing…` : `${users.slice(0, -1).join(", ")} and ${users[users.length - 1]} are typing…`;
  }
};

// src/conversation-view.ts
var ConversationView = class {
  constructor(ctx, summary, label, onMembers) {
    this.ctx = ctx;
    this.onMembers = onMembers;
    this.id = summary.id;
    this.direct = summary.type === "direct";
    this.timeline = new Timeline(summary.id, ctx.me);
    this.title.textContent = label;
    const listEl = h("div", { class: "messages", "data-testid": "messages" });
    this.scroller = h("div", { class: "scroller" }, this.older, listEl);
    this.list = new MessageList(listEl, messageActions(ctx, summary.id, (m) => this.openThread(m)), this.scroller);
    this.older.addEventListener("click", () => this.loadOlder().catch((err) => ctx.fail("Load earlier messages", err)));
    const main = h(
      "section",
      { class: "chat", "data-testid": "chat", "data-conversation": summary.id },
      h("header", { class: "chat-header" }, this.title, this.memberBar),
      this.scroller,
      this.typing.el,
      composer({
        testid: "composer",
        placeholder: "Write a message…",
        typing: () => this.sendTyping(),
        send: async (body, id) => {
          try {
            this.redraw(this.timeline.add(await send(ctx, summary.id, body, id)));
          } catch (err) {
            ctx.fail("Send", err);
            throw err;
          }
        }
      })
    );
    this.el = h("div", { class: "conversation" }, main, this.pane);
  }
  ctx;
  onMembers;
  el;
  id;
  timeline;
  list;
  scroller;
  title = h("h2", { "data-testid": "conversation-title" });
  memberBar = h("div", { class: "members", "data-testid": "members" });
  older = h("button", { class: "older", "data-testid": "load-older", hidden: true }, "Load earlier messages");
  typing = new TypingLine();
  pane = h("div", { class: "pane" });
  thread;
  memberIds = [];
  lastTypingSent = 0;
  direct;
  // load reads the members and the latest messages; events that arrive meanwhile are held by
  // the timeline and re-applied on top.
  async load() {
    await this.loadMembers();
    const { value, at } = await asOf(this.ctx.api, this.id, () => roots(this.ctx.api, this.id));
    this.timeline.hasOlder = value.has_more;
    this.redraw(this.timeline.merge(value.items, at));
    this.scroller.scrollTop = this.scroller.scrollHeight;
  }
  onEvent(ev) {
    if (ev.type === "message.created" && ev.message) this.typing.done(ev.message.sender_id);
    if (ev.type === "member.added" || ev.type === "member.removed") this.loadMembers().catch((err) => this.ctx.fail("Members", err));
    this.redraw(this.timeline.apply(ev));
  }
  onTyping(user2) {
    if (user2 !== this.ctx.me) this.typing.typing(user2);
  }
  // renderPresence redraws the member bar's dots from ctx.presence.
  renderPresence() {
    fill(this.memberBar, this.memberIds.map((id) => h("span", { class: "member", "data-testid": "member", "data-user": id }, avatar(id, this.ctx.presence.get(id) ?? false), id)));
  }
  close() {
    this.typing.stop();
  }
  async loadMembers() {
    const list = await members(this.ctx.api, this.id);
    this.memberIds = list.map((m) => m.user_id).sort();
    if (this.direct) this.title.textContent = this.memberIds.find((id) => id !== this.ctx.me) ?? this.ctx.me;
    this.renderPresence();
    this.onMembers(this.memberIds);
  }
  async loadOlder() {
    const before = this.timeline.oldestRootSeq();
    if (before === void 0) return;
    const { value, at } = await asOf(this.ctx.api, this.id, () => roots(this.ctx.api, this.id, before));
    this.timeline.hasOlder = value.has_more;
    this.redraw(this.timeline.merge(value.items, at));
  }
  openThread(m) {
    this.thread = new ThreadView(this.ctx, this.timeline, m.seq, () => this.closeThread(), () => this.sendTyping(), (changed) => this.redraw(changed));
    fill(this.pane, this.thread.el);
    this.el.classList.add("with-thread");
    this.thread.update(/* @__PURE__ */ new Set());
    this.thread.load().catch((err) => this.ctx.fail("Thread", err));
  }
  closeThread() {
    this.thread = void 0;
    fill(this.pane);
    this.el.classList.remove("with-thread");
  }
  redraw(changed) {
    this.older.hidden = !this.timeline.hasOlder;
    this.list.update(this.timeline.roots(), changed);
    this.thread?.update(changed);
  }
  // sendTyping tells the others at most once every few seconds while the user types.
  sendTyping() {
    const now = Date.now();
    if (now - this.lastTypingSent < typingEvery) return;
    this.lastTypingSent = now;
    this.ctx.sock.typing(this.id);
  }
};

// src/inbox.ts
var Inbox = class {
  constructor(me) {
    this.me = me;
  }
  me;
  items = /* @__PURE__ */ new Map();
  // Events of conversations the page has not listed yet (one just joined): applied once the
  // list that names them has loaded.
  pending = [];
  get(id) {
    return this.items.get(id);
  }
  // list orders conversations by latest activity, as the API does.
  list() {
    return [...this.items.values()].sort((a, b) => activity(b).localeCompare(activity(a)));
  }
  // load replaces the list with a fresh one from the API, then applies the events held back.
  load(summaries) {
    for (const s of summaries) {
      const known = this.items.get(s.id);
      if (known && known.last_seq > s.last_seq) continue;
      const readHere = known !== void 0 && known.last_read_seq >= s.last_seq && s.unread_count > 0;
      this.items.set(s.id, readHere ? { ...s, last_read_seq: known.last_read_seq, unread_count: 0, unread_mention_count: 0 } : s);
    }
    for (const ev of this.pending.splice(0)) if (this.items.has(ev.conversation_id)) this.apply(ev, false);
  }
  // apply counts an event; `viewing` says the user has the conversation open in front of them,
  // so a message in it is read, not unread. It returns false when the conversation is unknown and
  // the list needs reloading.
  apply(ev, viewing) {
    const s = this.items.get(ev.conversation_id);
    if (!s) {
      this.pending.push(ev);
      return false;
    }
    if (ev.seq <= s.last_seq) return true;
    const next = { ...s, last_seq: ev.seq, updated_at: ev.created_at };
    switch (ev.type) {
      case "message.created": {
        const m = ev.message;
        next.last_message = m;
        if (m.sender_id === this.me) break;
        if (viewing) next.last_read_seq = Math.max(next.last_read_seq, m.seq);
        else {
          next.unread_count += 1;
          if (m.mentions.includes(this.me)) next.unread_mention_count += 1;
        }
        break;
      }
      case "message.updated":
        if (next.last_message?.seq === ev.message.seq) next.last_message = ev.message;
        break;
      case "message.deleted": {
        const m = ev.message;
        if (next.last_message?.seq === m.seq) next.last_message = m;
        if (m.sender_id !== this.me && m.seq > next.last_read_seq && next.unread_count > 0) next.unread_count -= 1;
        break;
      }
      case "conversation.updated":
        if (ev.conversation) Object.assign(next, { title: ev.conversation.title, member_count: ev.conversation.member_count });
        break;
      case "member.added":
        next.member_count += 1;
        break;
      case "member.removed":
        if (ev.member?.user_id === this.me) {
          this.items.delete(s.id);
          return true;
        }
        next.member_count = Math.max(0, next.member_count - 1);
        break;
    }
    this.items.set(s.id, next);
    return true;
  }
  // markRead records that the user has read up to seq (from this page or another of theirs).
  markRead(id, seq) {
    const s = this.items.get(id);
    if (!s) return;
    const all = seq >= s.last_seq;
    this.items.set(id, {
      ...s,
      last_read_seq: Math.max(s.last_read_seq, seq),
      unread_count: all ? 0 : s.unread_count,
      unread_mention_count: all ? 0 : s.unread_mention_count
    });
  }
};
function activity(s) {
  return s.last_message?.created_at ?? s.updated_at;
}

// src/sidebar.ts
var Sidebar = class {
  constructor(ctx, inbox, open) {
    this.ctx = ctx;
    this.inbox = inbox;
    this.open = open;
    this.el = h("aside", { class: "sidebar" }, newConversationForm(ctx, (s) => open(s)), this.list);
  }
  ctx;
  inbox;
  open;
  el;
  list = h("nav", { class: "conversations", "data-testid": "conversations" });
  names = /* @__PURE__ */ new Map();
  selected;
  select(id) {
    this.selected = id;
    this.render();
  }
  label(s) {
    if (s.type === "group") return s.title ?? "Untitled group";
    return this.names.get(s.id) ?? (s.created_by !== this.ctx.me ? s.created_by : "…");
  }
  render() {
    const items = this.inbox.list();
    fill(
      this.list,
      items.length === 0 ? h("p", { class: "empty" }, "No conversations yet. Start one above.") : null,
      items.map((s) => this.item(s))
    );
  }
  item(s) {
    const label = this.label(s);
    if (s.type === "direct" && !this.names.has(s.id) && s.created_by === this.ctx.me) this.lookUpOther(s);
    const last = s.last_message;
    const preview = !last ? "No messages yet" : last.deleted_at ? "Message deleted" : `${last.sender_id}: ${last.body}`;
    return h(
      "button",
      {
        class: `conversation-item${s.id === this.selected ? " selected" : ""}${s.unread_count > 0 ? " unread" : ""}`,
        "data-testid": "conversation-item",
        "data-conversation": s.id,
        "data-title": label,
        "data-unread": s.unread_count,
        onclick: () => this.open(s)
      },
      avatar(label),
      h("span", { class: "item-text" }, h("span", { class: "item-title" }, label), h("span", { class: "item-preview" }, preview)),
      s.unread_count > 0 ? h("span", { class: "badge", "data-testid": "unread" }, String(s.unread_count)) : null
    );
  }
  lookUpOther(s) {
    this.names.set(s.id, "…");
    unwrap(this.ctx.api.GET("/v1/conversations/{conversation_id}/members", { params: { path: { conversation_id: s.id } } })).then((list) => {
      this.names.set(s.id, list.items.find((m) => m.user_id !== this.ctx.me)?.user_id ?? this.ctx.me);
      this.render();
    }).catch((err) => {
      this.names.delete(s.id);
      this.ctx.fail("Members", err);
    });
  }
};
function newConversationForm(ctx, opened) {
  const kind = h("select", { "data-testid": "new-type", "aria-label": "Kind" }, h("option", { value: "group" }, "Group"), h("option", { value: "direct" }, "Direct"));
  const title = h("input", { "data-testid": "new-title", placeholder: "Title", maxlength: 200, "aria-label": "Title" });
  const who = h("input", { "data-testid": "new-members", placeholder: "Members: bob, carol", "aria-label": "Members", autocomplete: "off" });
  kind.addEventListener("change", () => {
    title.hidden = kind.value === "direct";
    who.placeholder = kind.value === "direct" ? "User: bob" : "Members: bob, carol";
  });
  return h(
    "form",
    {
      class: "new-conversation",
      onsubmit: async (e) => {
        e.preventDefault();
        const ids = who.value.split(/[\s,]+/).filter(Boolean);
        const type = kind.value === "direct" ? "direct" : "group";
        try {
          const conv = await unwrap(ctx.api.POST("/v1/conversations", {
            body: { type, member_ids: ids, ...type === "group" && title.value.trim() ? { title: title.value.trim() } : {} }
          }));
          title.value = "";
          who.value = "";
          opened({ ...conv, last_read_seq: conv.last_seq, unread_count: 0, unread_mention_count: 0, muted: false });
        } catch (err) {
          ctx.fail("New conversation", err);
        }
      }
    },
    h("h2", {}, "New conversation"),
    h("div", { class: "row" }, kind, title),
    who,
    h("button", { type: "submit", "data-testid": "new-submit" }, "Start")
  );
}

// src/signin.ts
var userKey = "parley-demo:user";
async function requestToken(user2) {
  const res = await fetch(new URL("token", document.baseURI), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user_id: user2 })
  });
  const body = await res.json().catch(() => ({}));
  if (!res.ok || typeof body.token !== "string") throw new Error(body.detail ?? `The token request failed (${res.status}).`);
  return body.token;
}
function rememberedUser() {
  return sessionStorage.getItem(userKey);
}
function forgetUser() {
  sessionStorage.removeItem(userKey);
}
function signInForm(signedIn) {
  const input = h("input", { "data-testid": "signin-user", placeholder: "alice", autocomplete: "username", "aria-label": "User name", required: true, maxlength: 128 });
  const error = h("p", { class: "error-text", "data-testid": "signin-error", "aria-live": "polite" });
  return h(
    "main",
    { class: "signin" },
    h(
      "form",
      {
        onsubmit: async (e) => {
          e.preventDefault();
          const user2 = input.value.trim();
          try {
            const token = await requestToken(user2);
            sessionStorage.setItem(userKey, user2);
            signedIn(user2, token);
          } catch (err) {
            error.textContent = err instanceof Error ? err.message : String(err);
          }
        }
      },
      h("h1", {}, h("span", { class: "logo" }, "◆"), " Parley"),
      h("p", { class: "hint" }, "A demo chat on the Parley API. Sign in as anyone: open a second window as someone else to talk to them."),
      input,
      h("button", { type: "submit", "data-testid": "signin-submit" }, "Sign in"),
      error
    )
  );
}

// src/app.ts
var stateLabels = {
  idle: "Not connected",
  connecting: "Connecting…",
  open: "Connected",
  reconnecting: "Reconnecting…",
  unauthorized: "Signing in again…",
  closed: "Disconnected"
};
var readDelay = 300;
var App = class {
  constructor(root2, me, token, signOut) {
    this.root = root2;
    this.signOut = signOut;
    this.token = token;
    const api = createParleyClient({ baseUrl: location.origin, token: this.tokenSource });
    this.sock = this.newSocket(me, api);
    const app = this;
    this.ctx = { me, api, get sock() {
      return app.sock;
    }, presence: /* @__PURE__ */ new Map(), fail: (what, err) => this.fail(what, err) };
    this.inbox = new Inbox(me);
    this.sidebar = new Sidebar(this.ctx, this.inbox, (s) => this.open(s));
  }
  root;
  signOut;
  ctx;
  inbox;
  sidebar;
  status = h("span", { class: "status", "data-testid": "connection", "data-state": "idle" }, stateLabels.idle);
  toast = h("div", { class: "toast", "data-testid": "error", role: "alert", hidden: true });
  main = h("main", { class: "main" }, h("div", { class: "placeholder" }, "Pick a conversation, or start one."));
  view;
  token;
  // The socket and the HTTP client ask for the token before each use: a renewed one is used at once.
  tokenSource = () => this.token;
  // The read position last sent per conversation, so that one is not sent twice.
  toldRead = /* @__PURE__ */ new Map();
  timers = /* @__PURE__ */ new Set();
  readTimer;
  reloading;
  reloadAgain = false;
  refreshingToken = false;
  offs = [];
  sockOffs = [];
  sock;
  presenceIds;
  wasOpen = false;
  start() {
    const { me } = this.ctx;
    fill(this.root, h(
      "div",
      { class: "app", "data-testid": "app", "data-user": me },
      h(
        "header",
        { class: "topbar" },
        h("h1", {}, h("span", { class: "logo" }, "◆"), " Parley"),
        this.status,
        h("span", { class: "me", "data-testid": "me", title: `Signed in as ${me}` }, avatar(me), h("strong", {}, me)),
        h("button", { class: "link", "data-testid": "signout", onclick: () => this.signOut() }, "Sign out")
      ),
      this.sidebar.el,
      this.main,
      this.toast
    ));
    this.listen(document, "visibilitychange", () => {
      if (document.visibilityState === "visible") this.markViewedRead();
    });
    this.listen(window, "online", () => {
      if (this.sock.state === "reconnecting") this.replaceSocket();
    });
    this.connect();
    this.reload();
  }
  stop() {
    for (const off of this.offs.splice(0)) off();
    for (const off of this.sockOffs.splice(0)) off();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    clearTimeout(this.readTimer);
    this.view?.close();
    this.sock.close();
  }
  newSocket(me, api) {
    return new ParleySocket({ baseUrl: location.origin, token: this.tokenSource, api, cursors: new LocalStorageCursorStore(`parley:${me}`) });
  }
  // connect routes the socket's frames to the page and starts it.
  connect() {
    const { sock, ctx } = this;
    this.sockOffs.push(
      sock.on("event", (ev) => this.onEvent(ev)),
      sock.on("typing", (f) => {
        if (f.conversation_id === this.view?.id) this.view.onTyping(f.user_id);
      }),
      sock.on("read", (f) => {
        if (f.user_id === ctx.me) {
          this.inbox.markRead(f.conversation_id, f.seq);
          this.sidebar.render();
        }
      }),
      sock.on("presence", (f) => {
        for (const p of f.users) ctx.presence.set(p.user_id, p.status === "online");
        this.view?.renderPresence();
      }),
      sock.on("state", (state) => this.onState(state)),
      sock.on("clientError", (err) => console.warn("parley socket:", err))
    );
    for (const s of this.inbox.list()) sock.track(s.id, s.last_seq);
    if (this.presenceIds) sock.subscribePresence(this.presenceIds);
    sock.connect();
  }
  // replaceSocket swaps the socket for a new one that resumes from the same stored cursors.
  replaceSocket() {
    for (const off of this.sockOffs.splice(0)) off();
    this.sock.close();
    this.sock = this.newSocket(this.ctx.me, this.ctx.api);
    this.connect();
  }
  listen(on, type, handler) {
    on.addEventListener(type, handler);
    this.offs.push(() => on.removeEventListener(type, handler));
  }
  onEvent(ev) {
    const viewing = this.viewing(ev.conversation_id);
    if (!this.inbox.apply(ev, viewing)) this.reload();
    if (this.view?.id === ev.conversation_id) {
      this.view.onEvent(ev);
      if (viewing && ev.type === "message.created" && ev.message?.sender_id !== this.ctx.me) this.markReadSoon();
    }
    this.sidebar.render();
  }
  onState(state) {
    this.status.dataset.state = state;
    this.status.textContent = stateLabels[state] ?? state;
    if (state === "open") {
      if (this.wasOpen) this.reload();
      this.wasOpen = true;
    }
    if (state === "unauthorized" && !this.refreshingToken) {
      this.refreshingToken = true;
      requestToken(this.ctx.me).then((token) => {
        this.token = token;
        this.sock.setToken(this.tokenSource);
      }).catch((err) => this.fail("Sign in again", err)).finally(() => {
        this.refreshingToken = false;
      });
    }
  }
  viewing(id) {
    return this.view?.id === id && document.visibilityState === "visible";
  }
  // reload fetches the conversation list; a call while one is running runs one more after it,
  // so a conversation joined meanwhile is not missed.
  reload() {
    if (this.reloading) {
      this.reloadAgain = true;
      return;
    }
    this.reloading = allConversations(this.ctx.api).then((items) => {
      this.inbox.load(items);
      for (const s of items) this.sock.track(s.id, s.last_seq);
      this.sidebar.render();
      this.markViewedRead();
      this.reopen();
    }).catch((err) => this.fail("Conversations", err)).finally(() => {
      this.reloading = void 0;
      if (this.reloadAgain) {
        this.reloadAgain = false;
        this.reload();
      }
    });
  }
  // reopen opens the conversation the address names (#<id>), once the list has it: a reloaded
  // page shows what it showed before.
  reopen() {
    const s = this.inbox.get(location.hash.slice(1));
    if (s && !this.view) this.open(s);
  }
  open(s) {
    if (!this.inbox.get(s.id)) {
      this.inbox.load([s]);
      this.sock.track(s.id, s.last_seq);
    }
    if (this.view?.id === s.id) return;
    this.view?.close();
    const view = new ConversationView(this.ctx, s, this.sidebar.label(s), (ids) => {
      if (this.view !== view) return;
      this.presenceIds = ids;
      this.sock.subscribePresence(ids);
    });
    this.view = view;
    history.replaceState(null, "", `#${s.id}`);
    fill(this.main, view.el);
    this.sidebar.select(s.id);
    view.load().then(() => this.markViewedRead(), (err) => this.fail("Messages", err));
    view.el.querySelector("[data-testid=composer-input]")?.focus();
  }
  markReadSoon() {
    clearTimeout(this.readTimer);
    this.readTimer = setTimeout(() => this.markViewedRead(), readDelay);
  }
  // markViewedRead marks the open conversation read up to its latest event.
  markViewedRead() {
    const s = this.view && this.viewing(this.view.id) ? this.inbox.get(this.view.id) : void 0;
    if (!s || s.last_seq === 0) return;
    const seq = s.last_seq;
    this.inbox.markRead(s.id, seq);
    this.sidebar.render();
    if ((this.toldRead.get(s.id) ?? -1) >= seq) return;
    this.toldRead.set(s.id, seq);
    markRead(this.ctx, s.id, seq).catch((err) => {
      this.toldRead.delete(s.id);
      this.fail("Mark read", err);
    });
  }
  fail(what, err) {
    console.error(what, err);
    this.toast.textContent = `${what}: ${err instanceof Error ? err.message : String(err)}`;
    this.toast.hidden = false;
    const t = setTimeout(() => {
      this.timers.delete(t);
      this.toast.hidden = true;
    }, 6e3);
    this.timers.add(t);
  }
};

// src/main.ts
var root = document.getElementById("app");
function showSignIn() {
  fill(root, signInForm(start));
  root.querySelector("input")?.focus();
}
function start(user2, token) {
  const app = new App(root, user2, token, () => {
    app.stop();
    forgetUser();
    history.replaceState(null, "", location.pathname);
    showSignIn();
  });
  app.start();
}
var user = rememberedUser();
if (user) requestToken(user).then((token) => start(user, token), showSignIn);
else showSignIn();
