// The browser SDK signs exactly as the server verifies: the vectors shared with the Rust tests.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { canonicalQuery, sign, stringToSign } from "../sdk/api.js";

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
