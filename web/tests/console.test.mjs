// The web console `cloudphone up` prints: sign in with the key pair from credentials.json,
// create a phone, read its model through the shell, open its live view, delete it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { usePlatformAndBrowser } from "./harness.mjs";

const env = usePlatformAndBrowser();

test("the console manages phones with the credentials from credentials.json", async () => {
  const credentials = JSON.parse(await readFile(`${env.platform.dataDir}/credentials.json`, "utf8"));
  const context = await env.browser.newContext();
  const page = await context.newPage();
  await page.goto(env.platform.url + "/");
  assert.equal(await page.getByTestId("create").isVisible(), false, "no toolbar before signing in");

  await page.getByTestId("access-key").fill(credentials.access_key);
  await page.getByTestId("secret-key").fill("wrong secret");
  await page.getByTestId("sign-in").click();
  await assert.doesNotReject(page.getByTestId("error").filter({ hasText: "auth.bad_signature" }).waitFor());

  await page.getByTestId("secret-key").fill(credentials.secret_key);
  await page.getByTestId("sign-in").click();
  await page.getByTestId("create").click();
  assert.equal(await page.getByTestId("sign-in").isVisible(), false, "the sign-in form is gone");
  const row = page.getByTestId("instance-row");
  await row.first().waitFor();
  assert.equal(await row.count(), 1);
  const id = await row.first().getAttribute("data-id");
  assert.deepEqual((await env.platform.cli("instance", "list", "--json")).includes(String(id)), true);

  await row.first().getByTestId("shell").click();
  await page.getByTestId("shell-output").filter({ hasText: "Pixel 7" }).waitFor();

  const [viewer] = await Promise.all([context.waitForEvent("page"), row.first().getByTestId("view").click()]);
  await viewer.waitForFunction(
    () => /** @type {HTMLVideoElement} */ (document.querySelector("[data-testid=phone-screen]")).videoWidth === 720,
    null,
    { timeout: 20_000 },
  );
  await viewer.close();

  await row.first().getByTestId("delete").click();
  await row.first().waitFor({ state: "detached" });
  assert.equal((await env.platform.cli("instance", "list", "--json")).trim(), "[]");
  await context.close();
});
