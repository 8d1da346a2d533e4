// The browser SDK signs exactly as the server verifies: the vectors shared with the Rust tests.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { canonicalQuery, sign, stringToSign, verifyCallback } from "../sdk/api.js";

const vectors = JSON.parse(
  await readFile(new URL("../../crates/protocol/vectors/signing.json", import.meta.url), "utf8"),
);

test("canonical query vectors", () => {
  for (const { raw, canonical } of vectors.canonical_query) assert.equal(canonicalQuery(raw), canonical, raw);
});

test("signature vectors", async () => {
  for (const v of vectors.signatures) {
    const parts = {
      method: v.method,
      path: v.path,
      canonicalQuery: canonicalQuery(v.raw_query),
      timestamp: v.timestamp,
      nonce: v.nonce,
      body: new TextEncoder().encode(v.body),
    };
    assert.equal(await stringToSign(parts), v.string_to_sign);
    assert.equal(await sign(v.secret_key, parts), v.signature);
  }
});

test("callback signature vector", async () => {
  const v = JSON.parse(await readFile(new URL("../../crates/protocol/vectors/callback.json", import.meta.url), "utf8"));
  assert.equal(await verifyCallback(v.secret, v.header, v.body, v.timestamp + 10), true);
  assert.equal(await verifyCallback(v.secret, v.header, v.body + " ", v.timestamp), false, "another body");
  assert.equal(await verifyCallback("other-secret", v.header, v.body, v.timestamp), false, "another secret");
  assert.equal(await verifyCallback(v.secret, v.header, v.body, v.timestamp + 301), false, "stale");
  assert.equal(await verifyCallback(v.secret, "v1=00", v.body, v.timestamp), false, "malformed");
});
