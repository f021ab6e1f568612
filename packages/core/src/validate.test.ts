import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ValidationError } from "./errors.ts";
import { decodeUtf8, parseInstant, parseJson } from "./validate.ts";

describe("parseInstant", () => {
  it("reads CloudWatch's +0000 form, Z and offsets as the same instants Date does", () => {
    expect(parseInstant("2019-10-02T17:04:40.985+0000")).toBe(Date.parse("2019-10-02T17:04:40.985Z"));
    expect(parseInstant("2026-03-01T10:00:00+01:00")).toBe(Date.parse("2026-03-01T09:00:00Z"));
    expect(parseInstant("2026-03-01T09:00:00Z")).toBe(Date.parse("2026-03-01T09:00:00Z"));
  });

  it("refuses what Date.parse would read leniently or roll over", () => {
    for (const text of [
      "1",
      "not-a-timestamp",
      "2026-03-01",
      "2026-02-30T00:00:00Z",
      "2026-03-01T24:00:00Z",
      "",
    ])
      expect(parseInstant(text)).toBeUndefined();
  });

  it("gives back the instant of any date's ISO string, in any offset form", () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date("1970-01-01T00:00:00Z"),
          max: new Date("9999-12-31T23:59:59Z"),
          noInvalidDate: true,
        }),
        (d) => {
          const iso = d.toISOString();
          expect(parseInstant(iso)).toBe(d.getTime());
          expect(parseInstant(iso.replace("Z", "+0000"))).toBe(d.getTime());
          expect(parseInstant(iso.replace("Z", "-00:00"))).toBe(d.getTime());
        },
      ),
    );
  });
});

describe("parseJson", () => {
  it("refuses a __proto__, constructor or prototype key at any depth, naming its path", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("__proto__", "constructor", "prototype"),
        fc.array(fc.stringMatching(/^[a-z]{1,5}$/), { maxLength: 5 }),
        (key, path) => {
          const text = path.reduceRight((inner, p) => `{"${p}":${inner}}`, `{"${key}":{}}`);
          const err = (() => {
            try {
              parseJson(text);
            } catch (e) {
              return e;
            }
          })();
          expect(err).toBeInstanceOf(ValidationError);
          expect((err as ValidationError).path).toBe([...path, key].join("."));
        },
      ),
    );
  });

  it("returns any JSON without those keys unchanged", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 5 }), (value) => {
        const text = JSON.stringify(value);
        fc.pre(!/"(__proto__|constructor|prototype)":/.test(text));
        expect(parseJson(text)).toEqual(JSON.parse(text));
      }),
    );
  });

  it("refuses nesting over 32 levels without overflowing the stack", () => {
    expect(() => parseJson("[".repeat(500_000) + "]".repeat(500_000))).toThrow(/nested more than 32/);
  });
});

describe("decodeUtf8", () => {
  it("refuses bytes that are not UTF-8 instead of turning them into U+FFFD", () => {
    expect(() => decodeUtf8(Buffer.from([0x7b, 0xff, 0x7d]))).toThrow(/not valid UTF-8/);
    expect(decodeUtf8(Buffer.from('{"a":"é"}'))).toBe('{"a":"é"}');
  });
});
