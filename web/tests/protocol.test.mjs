// The browser SDK speaks the control channel exactly as the Rust side does: it makes the
// messages of the shared vectors and hands their events to the documented callbacks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { CloudPhoneSession, handleControlEvent } from "../sdk/cloudphone.js";

const vectors = JSON.parse(await readFile(new URL("../../crates/protocol/vectors/control.json", import.meta.url), "utf8"));

/** A control channel that keeps what is sent. */
function fakeChannel() {
  return { readyState: "open", sent: /** @type {string[]} */ ([]), send(/** @type {string} */ text) { this.sent.push(text); }, addEventListener() {} };
}

test("the SDK's calls make the vectors' messages", () => {
  for (const { name, sdk, wire } of vectors.messages) {
    const channel = fakeChannel();
    const session = new CloudPhoneSession(/** @type {any} */ ({ signallingUrl: "/v1/signalling/offer", token: "t" }));
    session.control = /** @type {any} */ (channel);
    const [method, args] = sdk;
    /** @type {any} */ (session)[method](...args);
    assert.equal(channel.sent.length, 1, name);
    assert.deepEqual(JSON.parse(channel.sent[0]), wire, name);
  }
});

test("the vectors' events reach their callbacks", () => {
  for (const { name, wire, callback } of vectors.events) {
    /** @type {Array<[string, any[]]>} */
    const calls = [];
    /** @type {Record<string, (...args: any[]) => void>} */
    const callbacks = {};
    for (const hook of ["onError", "onClipboard", "onRotation", "onForeground", "onAppMessage", "onQuality", "onRunInformation", "onIdleWarning", "onSessionEnded"]) {
      callbacks[hook] = (...args) => calls.push([hook, args]);
    }
    handleControlEvent(JSON.stringify(wire), callbacks);
    assert.equal(calls.length, 1, name);
    const [hook, args] = calls[0];
    assert.equal(hook, callback[0], name);
    // Errors arrive as CloudPhoneError objects: compare their code and message.
    const seen = hook === "onError" ? [{ code: args[0].code, message: args[0].message }] : args;
    assert.deepEqual(seen, callback[1], name);
  }
  // Unknown kinds are ignored; text that is not JSON is an error of its own.
  /** @type {string[]} */
  const seen = [];
  handleControlEvent('{"type":"from_the_future"}', { onError: () => seen.push("error") });
  handleControlEvent("not json", { onError: (e) => seen.push(e.code) });
  assert.deepEqual(seen, ["control.invalid_message"]);
});
