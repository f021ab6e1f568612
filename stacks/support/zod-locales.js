// The only zod locale Reflex's Lambda bundles carry (see zod-english.ts).
export { default as en } from "zod/v4/locales/en.js";
