// Driver for one headless Chromium, used by the Go package internal/peers.
//
// Protocol: JSON lines.
//   stdin : {"id": N, "cmd": "open"|"eval"|"waitFor"|"close"|"crash", ...}
//   stdout: {"id": N, "ok": true, "result": ...} | {"id": N, "ok": false, "error": "..."}
//           {"event": "ready", "version": "..."}                 once, after launch
//           {"event": "console", "page": "p1", "text": "..."}   console output, page errors
// Requests may carry "timeoutMs" (the Go context's deadline; 0 = none).
// Commands run concurrently. The driver closes Chromium and exits when stdin ends,
// so a test process that dies never leaves a browser behind.
import { chromium, devices } from 'playwright-core';
import readline from 'node:readline';

const ARGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage',
  '--disable-background-networking', '--disable-component-update',
  '--no-first-run', '--disable-sync', '--disable-quic',
  // Extra Chromium flags from the Go side, e.g. --ignore-certificate-errors-spki-list.
  ...process.argv.slice(2),
];

const send = (msg) => process.stdout.write(JSON.stringify(msg) + '\n');
const pages = new Map(); // page id (chosen by Go) -> Page

function page(id) {
  const p = pages.get(id);
  if (!p) throw new Error(`no open page ${id}`);
  return p;
}

const browser = await chromium.launch({
  executablePath: '/usr/bin/chromium',
  headless: true,
  args: ARGS,
});

const commands = {
  async open({ page: id, url, timeoutMs, device }) {
    // device: a Playwright device name ("Pixel 7"): its user agent, viewport and touch.
    if (device && !devices[device]) throw new Error(`unknown device ${device}`);
    const context = await browser.newContext(device ? devices[device] : {});
    const p = await context.newPage();
    pages.set(id, p);
    const log = (text) => send({ event: 'console', page: id, text });
    p.on('console', (m) => log(`${m.type()}: ${m.text()}`));
    p.on('pageerror', (e) => log(`pageerror: ${e.stack || e.message}`));
    p.on('requestfailed', (r) => log(`requestfailed: ${r.url()} ${r.failure()?.errorText}`));
    p.on('crash', () => log('crash: page crashed'));
    p.on('close', () => pages.delete(id));
    await p.goto(url, { waitUntil: 'load', timeout: timeoutMs || 0 });
    return null;
  },
  async eval({ page: id, js }) {
    const v = await page(id).evaluate(js);
    return v === undefined ? null : v;
  },
  async waitFor(req) {
    await page(req.page).waitForFunction(req.js, undefined, { polling: 50, timeout: req.timeoutMs || 0 });
    return null;
  },
  async close({ page: id }) {
    const p = pages.get(id);
    if (p) {
      pages.delete(id);
      await p.context().close();
    }
    return null;
  },
  async crash({ page: id }) {
    const p = page(id);
    const crashed = p.waitForEvent('crash', { timeout: 0 });
    const cdp = await p.context().newCDPSession(p);
    cdp.send('Page.crash').catch(() => {}); // never answers: the renderer is gone
    await crashed;
    return null;
  },
};

let closing = false;
browser.on('disconnected', () => {
  if (closing) return;
  process.stderr.write('browser.mjs: Chromium went away\n');
  process.exit(1);
});

send({ event: 'ready', version: browser.version() });

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', async (line) => {
  if (!line.trim()) return;
  let req;
  try {
    req = JSON.parse(line);
    const fn = commands[req.cmd];
    if (!fn) throw new Error(`unknown cmd ${req.cmd}`);
    send({ id: req.id, ok: true, result: await fn(req) });
  } catch (e) {
    send({ id: req?.id ?? null, ok: false, error: String(e?.message || e) });
  }
});
rl.on('close', async () => {
  closing = true;
  const forceExit = setTimeout(() => process.exit(0), 5000);
  forceExit.unref();
  await browser.close().catch(() => {});
  process.exit(0);
});
