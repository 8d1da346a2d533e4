// @ts-check
/**
 * cloudphone browser SDK, API part: signs requests with an access key pair (docs/api-signing.md)
 * using WebCrypto. Meant for the developer's own tools, such as the web console: an access key
 * pair must never be shipped to end users; their viewers get session tokens instead.
 */

import { CloudPhoneError } from "./cloudphone.js";

const encoder = new TextEncoder();

/**
 * @param {ArrayBuffer} buffer
 * @returns {string}
 */
const toHex = (buffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");

/**
 * RFC 3986 percent-encoding: only `A-Z a-z 0-9 - _ . ~` stay as they are.
 * @param {string} s
 * @returns {string}
 */
export function encodeComponent(s) {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
}

/**
 * Percent-decodes without turning `+` into a space.
 * @param {string} s
 * @returns {string}
 */
function decodeComponent(s) {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * The canonical form of a raw query string (without `?`).
 * @param {string} raw
 * @returns {string}
 */
export function canonicalQuery(raw) {
  /** @type {[string, string][]} */
  const pairs = raw
    .split("&")
    .filter((p) => p.length > 0)
    .map((p) => {
      const i = p.indexOf("=");
      const [k, v] = i < 0 ? [p, ""] : [p.slice(0, i), p.slice(i + 1)];
      return [encodeComponent(decodeComponent(k)), encodeComponent(decodeComponent(v))];
    });
  // Byte order of the encoded strings (they are ASCII), as the server sorts them.
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join("&");
}

/**
 * @typedef {object} SignedParts
 * @property {string} method
 * @property {string} path
 * @property {string} canonicalQuery
 * @property {string} timestamp
 * @property {string} nonce
 * @property {Uint8Array} body
 */

/**
 * The exact string the HMAC is computed over.
 * @param {SignedParts} parts
 * @returns {Promise<string>}
 */
export async function stringToSign(parts) {
  const bodyHash = toHex(await crypto.subtle.digest("SHA-256", /** @type {BufferSource} */ (parts.body)));
  return [parts.method, parts.path, parts.canonicalQuery, parts.timestamp, parts.nonce, bodyHash].join("\n");
}

/**
 * The lowercase hex signature of a request.
 * @param {string} secretKey
 * @param {SignedParts} parts
 * @returns {Promise<string>}
 */
export async function sign(secretKey, parts) {
  const key = await crypto.subtle.importKey("raw", encoder.encode(secretKey), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
  ]);
  return toHex(await crypto.subtle.sign("HMAC", key, encoder.encode(await stringToSign(parts))));
}

/**
 * Checks a callback's `X-CP-Callback-Signature` header (docs/callbacks.md) as a receiver
 * should: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + body)>`, with `t` within 300 s
 * of `nowSeconds`. Resolves to true only for a genuine, fresh callback.
 * @param {string} secret the callback secret
 * @param {string} header the header's value
 * @param {string | Uint8Array} body the raw request body, exactly as received
 * @param {number} [nowSeconds]
 * @returns {Promise<boolean>}
 */
export async function verifyCallback(secret, header, body, nowSeconds = Math.floor(Date.now() / 1000)) {
  /** @type {Record<string, string>} */
  const fields = {};
  for (const part of header.split(",")) {
    const i = part.indexOf("=");
    if (i > 0) fields[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  const t = Number(fields.t);
  const mac = fields.v1 ?? "";
  if (!Number.isInteger(t) || !/^[0-9a-f]{64}$/.test(mac) || Math.abs(nowSeconds - t) > 300) return false;
  const bytes = typeof body === "string" ? encoder.encode(body) : body;
  const message = new Uint8Array([...encoder.encode(`${t}.`), ...bytes]);
  const key = await crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "verify",
  ]);
  const signature = new Uint8Array(mac.match(/../g)?.map((h) => parseInt(h, 16)) ?? []);
  // crypto.subtle.verify compares in constant time.
  return crypto.subtle.verify("HMAC", key, signature, message);
}

/**
 * @typedef {{id: string, status: string, pad_status: number, created_at: string, updated_at: string}} Instance
 * @typedef {{exit_code: number, stdout: string, stderr: string}} ShellResult
 * @typedef {{instance_id: string, session_token: string, expires_at: string, signalling_url: string, view_url: string, allow: string[]}} SessionGrant
 * @typedef {{id: string, kind: string, business_code: number, status: string, task_status: number, instance_id?: string, parent_id?: string, params: unknown, result?: unknown, error?: {code: string, message: string}, attempts: number, created_at: string, started_at?: string, ended_at?: string, deadline?: string, children?: string[]}} Task
 */

/** A client of the cloudphone OpenAPI. */
export class ApiClient {
  /**
   * @param {string} baseUrl e.g. "http://127.0.0.1:8080" ("" for the page's own origin)
   * @param {string} accessKey
   * @param {string} secretKey
   */
  constructor(baseUrl, accessKey, secretKey) {
    this.baseUrl = baseUrl.replace(/\/$/, "");
    this.accessKey = accessKey;
    this.secretKey = secretKey;
  }

  /**
   * Sends a signed request; resolves to the response, or throws a CloudPhoneError.
   * @param {string} method
   * @param {string} path
   * @param {unknown} [json]
   * @returns {Promise<Response>}
   */
  async request(method, path, json) {
    const body = json === undefined ? new Uint8Array() : encoder.encode(JSON.stringify(json));
    const timestamp = String(Math.floor(Date.now() / 1000));
    const nonce = toHex(crypto.getRandomValues(new Uint8Array(16)).buffer);
    const [pathOnly, query = ""] = path.split("?");
    const signature = await sign(this.secretKey, {
      method,
      path: pathOnly,
      canonicalQuery: canonicalQuery(query),
      timestamp,
      nonce,
      body,
    });
    /** @type {Record<string, string>} */
    const headers = {
      "X-CP-Access-Key": this.accessKey,
      "X-CP-Timestamp": timestamp,
      "X-CP-Nonce": nonce,
      "X-CP-Signature": signature,
    };
    if (body.length) headers["Content-Type"] = "application/json";
    const response = await fetch(this.baseUrl + path, { method, headers, body: body.length ? body : undefined });
    if (!response.ok) {
      const error = await response.json().catch(() => null);
      throw new CloudPhoneError(error?.error?.code ?? "internal", error?.error?.message ?? response.statusText);
    }
    return response;
  }

  /** @returns {Promise<Instance[]>} */
  async listInstances() {
    return (await (await this.request("GET", "/v1/instances")).json()).instances;
  }

  /**
   * Creates phones and waits (up to a minute) until they run.
   * @param {number} count
   * @returns {Promise<Instance[]>}
   */
  async createInstances(count) {
    const created = await (await this.request("POST", "/v1/instances?wait=60", { count })).json();
    if (created.task.status !== "done") {
      const error = created.task.error ?? { code: "task.not_ended", message: `the task is ${created.task.status}` };
      throw new CloudPhoneError(error.code, error.message);
    }
    return created.instances;
  }

  /**
   * A task; with `waitSeconds` (up to 60) the server answers when it ends or the time is up.
   * @param {string} id
   * @param {number} [waitSeconds]
   * @returns {Promise<Task>}
   */
  async task(id, waitSeconds = 0) {
    const query = waitSeconds > 0 ? `?wait=${waitSeconds}` : "";
    return (await this.request("GET", `/v1/tasks/${encodeComponent(id)}${query}`)).json();
  }

  /** @param {string} id */
  async deleteInstance(id) {
    await this.request("DELETE", `/v1/instances/${encodeComponent(id)}`);
  }

  /**
   * @param {string} id
   * @param {string} command
   * @returns {Promise<ShellResult>}
   */
  async shell(id, command) {
    return (await this.request("POST", `/v1/instances/${encodeComponent(id)}/shell`, { command })).json();
  }

  /**
   * @param {string} id
   * @returns {Promise<SessionGrant>}
   */
  async createSession(id) {
    return (await this.request("POST", `/v1/instances/${encodeComponent(id)}/sessions`, {})).json();
  }
}
