/** Debian's chromium, headless, through playwright-core; no network beyond 127.0.0.1. */
import { type Browser, chromium } from "playwright-core";

export const CHROMIUM = process.env.REFLEX_CHROMIUM ?? "/usr/bin/chromium";

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}
