// The demo chat page in headless Chromium against a real `parley serve --dev`: two users talk,
// react, reply in a thread, edit and delete; one of them drops off the network while the server
// restarts and messages keep coming, and when they are back both pages show the same history.
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { chromium } from "playwright-core";
import { Chat } from "./chat.mjs";
import { Parley, buildParley, databaseName, databaseURL, dropDatabase, freePort } from "./parley.mjs";

const chromiumPath = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const outDir = new URL("./out/", import.meta.url).pathname;
// Half of the 1280×800 picture each.
const viewport = { width: 640, height: 800 };

let work, parley, browser, dbName;
const started = Date.now();

before(async () => {
  work = mkdtempSync(join(tmpdir(), "parley-demo-"));
  const bin = buildParley(work);
  dbName = databaseName();
  parley = new Parley(bin, await freePort(), databaseURL(dbName));
  await parley.start();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    // launch() gives the browser a fresh user data directory of its own.
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  await browser?.close();
  await parley?.stop();
  if (dbName) {
    const problem = dropDatabase(dbName);
    if (problem) console.warn(problem);
  }
  if (work) rmSync(work, { recursive: true, force: true });
  console.log(`demo browser test: ${((Date.now() - started) / 1000).toFixed(1)} s in all`);
});

async function userPage(user) {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  page.on("pageerror", (err) => console.error(`${user}: page error:`, err));
  const chat = new Chat(page, user);
  await chat.signIn(`${parley.origin}/demo/`);
  return { context, page, chat };
}

test("two users chat, and one who drops off catches up with nothing lost or doubled", async () => {
  const alice = await userPage("alice");
  const bob = await userPage("bob");
  const a = alice.chat;
  const b = bob.chat;

  // alice starts a group with bob and writes before bob has looked.
  await a.newGroup("Launch", ["bob"]);
  await a.send("Morning bob, ready for the launch?");
  await a.send("The checklist is in the doc.");
  await b.waitUnread("Launch", 2);

  // bob opens it: the history is there, the badge goes, and each sees the other online.
  await b.open("Launch");
  await b.waitMessage("The checklist is in the doc.");
  await b.waitUnread("Launch", 0);
  await b.until(() => document.querySelector("[data-testid=members] [data-testid=presence][data-user=alice]")?.dataset.status === "online", undefined, "alice online");
  await a.until(() => document.querySelector("[data-testid=members] [data-testid=presence][data-user=bob]")?.dataset.status === "online", undefined, "bob online");

  // alice types on (the page and the server each pass one typing signal in two seconds); bob
  // sees it.
  await typeUntil(alice.page, "On my way, just", () => b.page.evaluate(() => document.querySelector("[data-testid=typing]")?.textContent === "alice is typing…"));
  await alice.page.getByTestId("composer-input").fill("");

  await b.send("Ready. Reading it now.");
  await a.waitMessage("Ready. Reading it now.");

  // bob reacts to alice's first message and answers it in a thread; alice sees both.
  const first = b.message("Morning bob, ready for the launch?");
  await first.hover();
  await first.getByTestId("react").filter({ hasText: "🎉" }).click();
  await a.message("Morning bob, ready for the launch?").locator("[data-testid=reaction][data-emoji='🎉'][data-count='1']").waitFor();
  await first.getByTestId("reply").click();
  await bob.page.getByTestId("thread-input").fill("Coffee first ☕");
  await bob.page.getByTestId("thread-send").click();
  await b.waitMessage("Coffee first ☕", "thread-messages");
  const aliceFirst = a.message("Morning bob, ready for the launch?");
  await aliceFirst.getByTestId("reply-count").filter({ hasText: "1 reply" }).waitFor();
  await aliceFirst.getByTestId("reply-count").click();
  await a.waitMessage("Coffee first ☕", "thread-messages");
  await alice.page.getByTestId("thread-close").click();
  await bob.page.getByTestId("thread-close").click();

  // alice edits one of hers and deletes another; bob sees both.
  await a.send("Launch at 10:00");
  await b.waitMessage("Launch at 10:00");
  // Found by seq: while it is edited, the message's body is an input.
  const edit = alice.page.locator(`[data-testid=messages] [data-seq="${await a.message("Launch at 10:00").getAttribute("data-seq")}"]`);
  await edit.hover();
  await edit.getByTestId("edit").click();
  await edit.getByTestId("edit-input").fill("Launch at 11:00");
  await edit.getByTestId("edit-input").press("Enter");
  await b.message("Launch at 11:00").getByTestId("edited").waitFor();
  await a.send("(ignore this one)");
  await b.waitMessage("(ignore this one)");
  const mistake = a.message("(ignore this one)");
  await mistake.hover();
  await mistake.getByTestId("delete").click();
  await b.page.locator("[data-testid=messages] [data-testid=message][data-deleted]").waitFor();

  await b.send("👍 see you at 11");
  await a.waitMessage("👍 see you at 11");
  // The picture: alice typing her next line, which bob sees.
  const bobSeesTyping = () => b.page.evaluate(() => document.querySelector("[data-testid=typing]")?.textContent === "alice is typing…");
  await typeUntil(alice.page, "Great, see you there", bobSeesTyping);
  await screenshot(alice.page, bob.page);
  await alice.page.getByTestId("composer-input").fill("");

  // bob drops off the network, and the server restarts on the same port and database (Chromium's
  // offline mode fails new connections but leaves open WebSockets be: the restart ends bob's).
  // alice writes on, in the group and in a new direct conversation bob has not seen yet.
  await bob.context.setOffline(true);
  await parley.stop();
  await parley.start();
  await b.until(() => document.querySelector("[data-testid=connection]")?.dataset.state !== "open", undefined, "bob's socket lost");
  await a.connected();
  await a.send("Offline 1");
  await a.send("Offline 2");
  await a.send("Offline 3");
  await a.send("Offline 4");
  await a.send("Offline 5");
  await a.newDirect("bob");
  await a.send("Psst, a word?");
  await a.send("Only when you have a minute.");
  await a.open("Launch");
  await a.waitMessage("Offline 5");

  const back = Date.now();
  await bob.context.setOffline(false);
  await b.connected();
  const reconnected = Date.now();
  await b.waitMessage("Offline 5");
  console.log(`bob back online: reconnected in ${reconnected - back} ms, caught up in ${Date.now() - back} ms`);
  const aliceSees = await a.messages();
  const bobSees = await b.messages();
  assert.deepEqual(bobSees, aliceSees, "both pages show the same history");
  const seqs = bobSees.map((m) => m.seq);
  assert.deepEqual(seqs, [...seqs].sort((x, y) => x - y), "in seq order");
  assert.equal(new Set(seqs).size, seqs.length, "no message twice");
  assert.deepEqual(bobSees.filter((m) => m.body.startsWith("Offline")).map((m) => m.body), ["Offline 1", "Offline 2", "Offline 3", "Offline 4", "Offline 5"]);
  assert.deepEqual(bobSees.map((m) => m.body), [
    "Morning bob, ready for the launch?", "The checklist is in the doc.", "Ready. Reading it now.", "Launch at 11:00",
    "This message was deleted.", "👍 see you at 11", "Offline 1", "Offline 2", "Offline 3", "Offline 4", "Offline 5",
  ], "replies stay in their thread");
  assert.equal(bobSees[0].reactions, "🎉 1");
  assert.equal(bobSees[0].replies, "1 reply");

  // A reload shows the same conversation and history again, read from the server and resumed.
  await bob.page.reload();
  await b.connected();
  await b.waitMessage("Offline 5");
  assert.deepEqual(await b.messages(), bobSees, "the same history after a reload");

  // The direct conversation bob is not viewing counts what alice wrote there, live too.
  await b.waitUnread("alice", 2);
  await a.open("bob");
  await a.send("Never mind, sorted.");
  await b.waitUnread("alice", 3);
  assert.equal(await b.conversationItem("Launch").getAttribute("data-unread"), "0");
  await b.open("alice");
  await b.waitMessage("Never mind, sorted.");
  await b.waitUnread("alice", 0);
});

// typeUntil types text into the page's composer at a person's pace, over again if need be, until
// seen() holds; it fails after 15 s.
async function typeUntil(page, text, seen) {
  const input = page.getByTestId("composer-input");
  const deadline = Date.now() + 15_000;
  for (let i = 0; ; i++) {
    if (await seen()) return;
    if (Date.now() > deadline) throw new Error("the other page never showed the typing");
    if (i % text.length === 0) await input.fill("");
    await input.press(text[i % text.length] === " " ? "Space" : text[i % text.length], { delay: 0 });
    await page.waitForTimeout(120); // typing speed, not a wait for a condition
  }
}

// screenshot saves both pages side by side as one 1280×800 picture: test/out/demo-chat.png, and
// PARLEY_SCREENSHOT too when set.
async function screenshot(left, right) {
  await Promise.all([left.mouse.move(0, 799), right.mouse.move(0, 799)]); // no hover highlight
  const [l, r] = await Promise.all([left.screenshot(), right.screenshot()]);
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const img = (png) => `<img src="data:image/png;base64,${png.toString("base64")}" width="640" height="800">`;
  await page.setContent(`<body style="margin:0;display:flex;background:#d0d4da">${img(l)}<div style="width:0;border-left:1px solid #b8bec7"></div>${img(r)}</body>`);
  await page.waitForFunction(() => [...document.images].every((i) => i.complete));
  const png = await page.screenshot();
  await page.close();
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, "demo-chat.png"), png);
  if (process.env.PARLEY_SCREENSHOT) writeFileSync(process.env.PARLEY_SCREENSHOT, png);
}
