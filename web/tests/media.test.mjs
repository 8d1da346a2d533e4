// End to end in Chromium with its fake camera and microphone: the phone's sound comes down as
// Opus, the page's camera shows in the phone's Camera app, the page's microphone raises the
// Recorder's level, app messages and the clipboard go both ways, and the page's sensors,
// location and rotation requests reach the phone.
import { test } from "node:test";
import assert from "node:assert/strict";
import { installSampler, sample, usePlatformAndBrowser } from "./harness.mjs";

const env = usePlatformAndBrowser(["--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]);

/**
 * Polls `check` until it returns something truthy, or fails after `timeoutMs` with `what`.
 * @template T
 * @param {() => Promise<T>} check
 * @param {string} what
 * @param {number} [timeoutMs]
 * @returns {Promise<T>}
 */
async function eventually(check, what, timeoutMs = 15_000) {
  const until = Date.now() + timeoutMs;
  let last;
  while (Date.now() < until) {
    last = await check();
    if (last) return last;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`${what}: not within ${timeoutMs} ms (last: ${JSON.stringify(last)})`);
}

/** @param {import("playwright-core").Page} page the phone's audio as the page receives it */
const inboundAudio = (page) =>
  page.evaluate(async () => {
    const stats = await /** @type {any} */ (window).cloudphone.pc.getStats();
    for (const s of stats.values()) {
      if (s.type === "inbound-rtp" && s.kind === "audio") return { packets: s.packetsReceived, energy: s.totalAudioEnergy ?? 0 };
    }
    return { packets: 0, energy: 0 };
  });

test("sound down; camera, microphone and app messages up, in Chromium", async () => {
  const id = (await env.platform.cli("instance", "create")).trim();
  const viewUrl = (await env.platform.cli("view", id)).trim();
  const page = await env.browser.newPage({ viewport: { width: 900, height: 1400 } });
  const logs = [];
  page.on("console", (m) => logs.push(m.text()));
  await page.addInitScript(installSampler);
  await page.goto(`${viewUrl}&camera=1&microphone=1`);
  await page
    .waitForFunction(() => {
      const v = /** @type {HTMLVideoElement} */ (document.querySelector("[data-testid=phone-screen]"));
      return v.videoWidth === 720 && /** @type {any} */ (window).cloudphone?.control.readyState === "open";
    }, null, { timeout: 20_000 })
    .catch(async (e) => {
      throw new Error(`no session: status=${await page.getByTestId("status").textContent()}; ${logs.join(" | ")}; ${e}`);
    });
  const shell = (/** @type {string[]} */ ...command) => env.platform.cli("instance", "shell", id, "--", ...command);

  // Down: the Recorder's test tone arrives as audio with energy (the page plays it once the
  // user unmutes, as a user would).
  await page.getByTestId("sound").click();
  await shell("monkey", "-p", "com.cloudphone.recorder", "1");
  const quiet = await inboundAudio(page);
  const video = page.getByTestId("phone-screen");
  const box = await video.boundingBox();
  assert.ok(box);
  await page.mouse.click(box.x + (360 * box.width) / 720, box.y + (1050 * box.height) / 1280);
  let latest = quiet;
  const heard = await eventually(async () => {
    latest = await inboundAudio(page);
    return latest.packets >= quiet.packets + 25 && latest.energy > quiet.energy ? latest : null;
  }, "the tone's packets arriving with energy").catch((e) => {
    throw new Error(`${e.message}; before ${JSON.stringify(quiet)}, now ${JSON.stringify(latest)}`);
  });
  console.log(`audio: ${heard.packets} packets, energy ${heard.energy.toFixed(3)}`);

  // Up: the fake microphone's beeps reach the phone's microphone (the Recorder shows the level).
  const mic = await eventually(async () => {
    const status = JSON.parse(await env.platform.cli("instance", "mic", id));
    return status.source === "viewer" && status.level_db > -40 ? status : null;
  }, "the page's microphone heard in the phone");
  console.log(`microphone: ${mic.level_db.toFixed(1)} dBFS, ${mic.samples} samples`);

  // Up: the fake camera's pictures arrive and show in the phone's Camera app.
  await shell("monkey", "-p", "com.cloudphone.camera", "1");
  const first = await eventually(async () => {
    const status = JSON.parse(await env.platform.cli("instance", "camera", id));
    return status.source === "viewer" && status.frames > 0 ? status : null;
  }, "the page's camera in the phone");
  const later = await eventually(async () => {
    const status = JSON.parse(await env.platform.cli("instance", "camera", id));
    return status.frames >= first.frames + 20 ? status : null;
  }, "the camera's pictures keep coming");
  assert.equal(later.width, 640);
  assert.equal(later.height, 480);
  // The Camera app's preview (the middle of the phone's screen) is the fake camera's bright
  // picture, not the dark "no frames yet" background.
  const grid = await sample(page);
  // The 9x16 grid's middle: columns 3 to 5 of rows 7 and 8.
  const middle = [7, 8].flatMap((row) => [3, 4, 5].map((column) => grid[row * 9 + column]));
  const centre = middle.reduce((sum, level) => sum + level, 0) / middle.length;
  assert.ok(centre > 40, `the preview shows the camera's picture (mean level ${centre})`);

  // App messages, both ways.
  await page.evaluate(() => /** @type {any} */ (window).cloudphone.sendAppMessage("com.cloudphone.notes", '{"from":"page"}'));
  const inbox = await eventually(
    () => shell("cmd", "cloudphone", "message", "read", "com.cloudphone.notes"),
    "the app's inbox has the page's message",
  );
  assert.equal(inbox, '{"from":"page"}\n');
  await page.evaluate(() => {
    const w = /** @type {any} */ (window);
    w.appMessages = [];
    window.addEventListener("cloudphone:app-message", (e) => w.appMessages.push(/** @type {CustomEvent} */ (e).detail));
  });
  await shell("cmd", "cloudphone", "message", "send", "com.cloudphone.notes", "pong");
  const replies = await eventually(
    () => page.evaluate(() => { const m = /** @type {any} */ (window).appMessages; return m.length ? m : null; }),
    "the app's reply in the page",
  );
  assert.deepEqual(replies, [{ package: "com.cloudphone.notes", data: "pong" }]);

  // The clipboard, both ways: the page's into the phone, the phone's (copied in Notes) to the page.
  await page.evaluate(() => {
    const w = /** @type {any} */ (window);
    w.clipboards = [];
    window.addEventListener("cloudphone:clipboard", (e) => w.clipboards.push(/** @type {CustomEvent} */ (e).detail));
    w.cloudphone.clipboard("from the page");
  });
  await eventually(async () => (await env.platform.cli("instance", "clipboard", id)).trim() === "from the page", "the page's clipboard in the phone");
  await shell("am", "start", "-n", "com.cloudphone.notes/.MainActivity");
  await page.evaluate(() => {
    const session = /** @type {any} */ (window).cloudphone;
    session.text("copied in Notes");
    session.key("KEYCODE_COPY");
  });
  const copied = await eventually(
    () => page.evaluate(() => { const c = /** @type {any} */ (window).clipboards; return c.length ? c : null; }),
    "the phone's clipboard in the page",
  );
  assert.deepEqual(copied, ["copied in Notes"]);

  // The page's sensors and location, and a rotation request.
  await page.evaluate(() => {
    const session = /** @type {any} */ (window).cloudphone;
    session.sensor("gyroscope", [0.25, 0.5, 0.75]);
    session.location({ latitude: 52.52, longitude: 13.405, accuracy: 5 });
    session.rotate(1);
  });
  const gyroscope = await eventually(async () => {
    const sensors = JSON.parse(await env.platform.cli("instance", "sensors", id, "--json"));
    return sensors.find((/** @type {any} */ s) => s.sensor === "gyroscope" && s.values[2] === 0.75);
  }, "the page's gyroscope in the phone");
  assert.deepEqual(gyroscope.values, [0.25, 0.5, 0.75]);
  const location = await eventually(async () => {
    const status = JSON.parse(await env.platform.cli("instance", "location", id));
    return status.source === "viewer" ? status : null;
  }, "the page's location in the phone");
  assert.equal(location.fix.latitude, 52.52);
  await page.waitForFunction(
    () => /** @type {HTMLVideoElement} */ (document.querySelector("[data-testid=phone-screen]")).videoWidth === 1280,
    null,
    { timeout: 10_000 },
  );

  // Shared by a link: a spectator's page shows the same phone.
  const link = await page.evaluate(() => /** @type {any} */ (window).cloudphone.share());
  assert.equal(link.role, "spectator");
  const friend = await env.browser.newPage({ viewport: { width: 900, height: 1400 } });
  await friend.goto(link.view_url);
  await friend.waitForFunction(
    // The phone is on its side since the rotation request.
    () => /** @type {HTMLVideoElement} */ (document.querySelector("[data-testid=phone-screen]")).videoWidth === 1280,
    null,
    { timeout: 20_000 },
  );
  await friend.close();
  await page.close();
});
