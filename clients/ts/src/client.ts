import createClient, { type Client, type Middleware } from "openapi-fetch";

import type { paths, Problem } from "./types.js";
import { resolveToken, type TokenSource } from "./token.js";

/** The typed HTTP client: `api.GET("/v1/me")`, `api.POST("/v1/conversations", { body })`, … */
export type ParleyClient = Client<paths>;

export interface ParleyClientOptions {
  /** Where Parley answers, such as `https://chat.example.com` (no trailing `/v1`). */
  baseUrl: string;
  /** The bearer token, or a function that returns a current one before each request. */
  token: TokenSource;
  /** A fetch to use instead of the global one (tests, instrumentation). */
  fetch?: (input: Request) => Promise<Response>;
}

/**
 * createParleyClient returns an openapi-fetch client for Parley's HTTP API that sends
 * `Authorization: Bearer <token>` with every request. Answers are typed by the OpenAPI document:
 * `data` on success, `error` (a {@link Problem}) otherwise.
 */
export function createParleyClient(options: ParleyClientOptions): ParleyClient {
  const client = createClient<paths>({
    baseUrl: trimSlash(options.baseUrl),
    ...(options.fetch ? { fetch: options.fetch } : {}),
    // GET /v1/presence takes user_ids comma separated (form style, explode false).
    querySerializer: { array: { style: "form", explode: false } },
  });
  client.use(bearerAuth(options.token));
  return client;
}

/** bearerAuth sets the Authorization header from a token source, asked afresh for each request. */
export function bearerAuth(token: TokenSource): Middleware {
  return {
    async onRequest({ request }) {
      request.headers.set("Authorization", `Bearer ${await resolveToken(token)}`);
      return request;
    },
  };
}

/** ParleyError is a request Parley refused: its status and, when it sent one, the problem. */
export class ParleyError extends Error {
  readonly status: number;
  /** The problem+json body; undefined when the answer had none (such as a plain-text 431). */
  readonly problem: Problem | undefined;
  readonly response: Response;

  constructor(response: Response, body: unknown) {
    const problem = isProblem(body) ? body : undefined;
    super(problem ? `${problem.status} ${problem.code}: ${problem.detail ?? problem.title}` : `HTTP ${response.status}`);
    this.name = "ParleyError";
    this.status = response.status;
    this.problem = problem;
    this.response = response;
  }

  /** The problem's machine-readable code, such as `not_found`. */
  get code(): string | undefined {
    return this.problem?.code;
  }
}

type Answer<T> = { data?: T; error?: unknown; response: Response };

/**
 * unwrap turns an openapi-fetch answer into its data, throwing a {@link ParleyError} for an error
 * answer: `const conv = await unwrap(api.GET("/v1/conversations/{conversation_id}", …))`.
 */
export async function unwrap<T>(answer: Promise<Answer<T>> | Answer<T>): Promise<T> {
  const { data, error, response } = await answer;
  if (!response.ok) {
    throw new ParleyError(response, error);
  }
  return data as T;
}

/** isProblem says whether a body is an RFC 9457 problem as Parley sends them. */
export function isProblem(body: unknown): body is Problem {
  if (typeof body !== "object" || body === null) {
    return false;
  }
  const p = body as Record<string, unknown>;
  return typeof p.type === "string" && typeof p.title === "string" && typeof p.status === "number" && typeof p.code === "string";
}

export function trimSlash(url: string): string {
  return url.replace(/\/+$/, "");
}
