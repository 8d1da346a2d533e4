// Starts a real `cloudphone up` on a free port with a fresh data directory, and runs the real
// CLI against it; samples the picture a page shows. Shared by the browser tests.
import { spawn, execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { promisify } from "node:util";
import { before, after } from "node:test";
import { chromium } from "playwright-core";

const run = promisify(execFile);

/** The cloudphone binary under test. */
export const BIN = process.env.CLOUDPHONE_BIN ?? resolve(import.meta.dirname, "../../target/debug/cloudphone");

/** Chromium flags that work on a headless machine with no network. */
export const CHROMIUM_ARGS = [
  "--headless=new",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  "--no-first-run",
];

/** Where Debian puts Chromium. */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/**
 * Starts the platform; resolves once it prints its console URL.
 * @returns {Promise<{url: string, dataDir: string, cli: (...args: string[]) => Promise<string>, stop: () => Promise<void>}>}
 */
export async function startPlatform() {
  const dataDir = await mkdtemp(join(tmpdir(), "cloudphone-e2e-"));
  const child = spawn(BIN, ["up", "--data-dir", dataDir, "--listen", "127.0.0.1:0"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG ?? "warn" },
  });
  let stderr = "";
  child.stderr.on("data", (d) => (stderr += d));
  const url = await new Promise((resolveUrl, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error(`cloudphone up did not start in 30 s:\n${out}\n${stderr}`)), 30_000);
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/console:\s+(http:\/\/\S+?)\/?\n/);
      if (m) {
        clearTimeout(timer);
        resolveUrl(m[1]);
      }
    });
    child.on("exit", (code) => reject(new Error(`cloudphone up exited with ${code}:\n${out}\n${stderr}`)));
  });
  const cli = async (/** @type {string[]} */ ...args) => (await run(BIN, ["--data-dir", dataDir, ...args])).stdout;
  const stop = async () => {
    child.kill("SIGINT");
    await new Promise((r) => child.once("exit", r));
    await rm(dataDir, { recursive: true, force: true });
  };
  return { url, dataDir, cli, stop };
}

/**
 * Registers before/after hooks that start the platform and Chromium for a test file; the
 * returned object is filled in once they ran.
 * @param {string[]} [extraArgs] more Chromium flags (fake camera and microphone, say)
 * @returns {{platform: Awaited<ReturnType<typeof startPlatform>>, browser: import("playwright-core").Browser}}
 */
export function usePlatformAndBrowser(extraArgs = []) {
  const env = /** @type {any} */ ({});
  before(async () => {
    env.platform = await startPlatform();
    env.browser = await chromium.launch({ executablePath: CHROMIUM, args: [...CHROMIUM_ARGS, ...extraArgs] });
  });
  after(async () => {
    await env.browser?.close();
    await env.platform?.stop();
  });
  return env;
}

/**
 * Installed in the page: a coarse 9x16 luminance grid of the picture the video shows now.
 * Readback works only once a frame is painted, so tests poll it rather than read it once.
 */
export function installSampler() {
  /** @type {any} */ (window).samplePicture = () => {
    const video = /** @type {HTMLVideoElement} */ (document.querySelector("[data-testid=phone-screen]"));
    const canvas = document.createElement("canvas");
    canvas.width = 9;
    canvas.height = 16;
    const ctx = /** @type {CanvasRenderingContext2D} */ (canvas.getContext("2d"));
    ctx.drawImage(video, 0, 0, 9, 16);
    const data = ctx.getImageData(0, 0, 9, 16).data;
    const grid = [];
    for (let i = 0; i < data.length; i += 4) grid.push(Math.round((data[i] + data[i + 1] + data[i + 2]) / 3));
    return grid;
  };
}

/** @param {import("playwright-core").Page} page @returns {Promise<number[]>} */
export const sample = (page) => page.evaluate(() => /** @type {any} */ (window).samplePicture());
