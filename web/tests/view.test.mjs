// End to end: `cloudphone view` opens the phone in headless Chromium over WebRTC (H.264), a
// decoded frame of the phone's size arrives, and a click on an icon changes the picture.
import { test } from "node:test";
import assert from "node:assert/strict";
import { installSampler, sample, usePlatformAndBrowser } from "./harness.mjs";

const env = usePlatformAndBrowser();

/** @param {number[]} a @param {number[]} b */
const difference = (a, b) => a.reduce((sum, v, i) => sum + Math.abs(v - b[i]), 0) / a.length;

test("the view page streams the phone and a click opens an app", async () => {
  const id = (await env.platform.cli("instance", "create")).trim();
  assert.match(id, /^cp-[0-9a-f]+$/);
  const viewUrl = (await env.platform.cli("view", id)).trim();
  assert.ok(viewUrl.startsWith(env.platform.url + "/view#token="), viewUrl);

  const page = await env.browser.newPage({ viewport: { width: 900, height: 1400 } });
  const logs = [];
  page.on("console", (m) => logs.push(m.text()));
  await page.addInitScript(installSampler);
  await page.goto(viewUrl);
  const video = page.getByTestId("phone-screen");

  // A decoded frame of the phone's size arrives.
  await page
    .waitForFunction(
      () => {
        const v = /** @type {HTMLVideoElement} */ (document.querySelector("[data-testid=phone-screen]"));
        if (v.videoWidth !== 720 || v.videoHeight !== 1280 || v.getVideoPlaybackQuality().totalVideoFrames === 0) return false;
        // Painted, not just counted: the launcher's blue shows up in the picture.
        return /** @type {any} */ (window).samplePicture().some((/** @type {number} */ l) => l > 40);
      },
      null,
      { timeout: 20_000 },
    )
    .catch(async (e) => {
      const status = await page.getByTestId("status").textContent();
      throw new Error(`no decoded frame: status=${status}; console=${logs.join(" | ")}; ${e}`);
    });
  const before = await sample(page);

  // Click the Settings icon, at (90, 240) in phone pixels.
  const box = await video.boundingBox();
  assert.ok(box);
  const clickedAt = Date.now();
  await page.mouse.click(box.x + (90 * box.width) / 720, box.y + (240 * box.height) / 1280);
  await page.waitForFunction(
    (reference) => {
      const now = /** @type {any} */ (window).samplePicture();
      return now.reduce((/** @type {number} */ sum, /** @type {number} */ v, /** @type {number} */ i) => sum + Math.abs(v - reference[i]), 0) / now.length > 30;
    },
    before,
    { timeout: 10_000 },
  );
  const after = await sample(page);

  assert.ok(difference(before, after) > 30, "the picture changed after the click");
  // The phone told the page which app came to the front.
  await page.waitForFunction(
    () => document.querySelector("[data-testid=foreground]")?.textContent === "com.android.settings",
    null,
    { timeout: 5_000 },
  );
  // The Settings screen is light where the launcher was blue.
  assert.ok(after[9 * 8 + 4] > before[9 * 8 + 4], "the middle of the screen became lighter (Settings opened)");
  console.log(`picture changed ${Date.now() - clickedAt} ms after the click`);

  // Escape is BACK: the launcher comes back.
  await video.focus();
  await page.keyboard.press("Escape");
  await page.waitForFunction(
    (reference) => {
      const now = /** @type {any} */ (window).samplePicture();
      return now.reduce((/** @type {number} */ sum, /** @type {number} */ v, /** @type {number} */ i) => sum + Math.abs(v - reference[i]), 0) / now.length < 10;
    },
    before,
    { timeout: 10_000 },
  );

  // Rotating the phone mid-session: the stream restarts at the new size, no reconnect.
  await env.platform.cli("instance", "shell", id, "--", "settings", "put", "system", "user_rotation", "1");
  await page.waitForFunction(
    () => {
      const v = /** @type {HTMLVideoElement} */ (document.querySelector("[data-testid=phone-screen]"));
      return v.videoWidth === 1280 && v.videoHeight === 720;
    },
    null,
    { timeout: 10_000 },
  );

  // A reconnect (as after a network change) brings the stream back with the same token.
  await page.evaluate(() => /** @type {any} */ (window).cloudphone.reconnect());
  await page.waitForFunction(
    () => document.querySelector("[data-testid=status]")?.textContent === "connected",
    null,
    { timeout: 15_000 },
  );
  const framesBefore = await page.evaluate(() => /** @type {HTMLVideoElement} */ (document.querySelector("[data-testid=phone-screen]")).getVideoPlaybackQuality().totalVideoFrames);
  await env.platform.cli("instance", "shell", id, "--", "input", "keyevent", "KEYCODE_APP_SWITCH");
  await page.waitForFunction(
    (before) => /** @type {HTMLVideoElement} */ (document.querySelector("[data-testid=phone-screen]")).getVideoPlaybackQuality().totalVideoFrames > before,
    framesBefore,
    { timeout: 10_000 },
  );

  // Revoking the token ends the live session: the viewer sees the connection go.
  const token = new URL(viewUrl).hash.replace("#token=", "");
  const revokedAt = Date.now();
  await env.platform.cli("session", "revoke", token);
  await page.waitForFunction(
    () => ["disconnected", "failed", "closed"].includes(document.querySelector("[data-testid=status]")?.textContent ?? ""),
    null,
    { timeout: 45_000 },
  );
  console.log(`session ended ${Date.now() - revokedAt} ms after the revoke`);

  await page.close();
});
