/**
 * The `wildcard` operator: `*` stands for any run of characters (including none), `\*` is a literal
 * asterisk and `\\` a literal backslash. Escaping any other character, a lone trailing backslash and
 * two wildcards in a row are rejected, as EventBridge rejects them.
 */

/** A parsed wildcard operand: the literal pieces between the wildcards, or why it is not valid. */
export type ParsedWildcard = { readonly segments: readonly string[] } | { readonly error: string };

/**
 * Splits a wildcard operand into its literal segments. `a*b*c` gives `["a", "b", "c"]`; a leading
 * or trailing `*` gives an empty first or last segment, so "starts with" and "ends with" fall out of
 * the same matcher.
 */
export function parseWildcard(operand: string): ParsedWildcard {
  const segments: string[] = [];
  let current = "";
  for (let i = 0; i < operand.length; i++) {
    const char = operand[i];
    if (char === "*") {
      if (operand[i + 1] === "*") return { error: `consecutive wildcard characters at position ${i}` };
      segments.push(current);
      current = "";
    } else if (char === "\\") {
      const next = operand[i + 1];
      if (next !== "*" && next !== "\\") {
        return { error: `invalid escape at position ${i}: only \\* and \\\\ may be escaped` };
      }
      current += next;
      i++;
    } else {
      current += char;
    }
  }
  segments.push(current);
  return { segments };
}

/**
 * Builds a matcher for parsed segments. It anchors the first and last segment and finds the middle
 * ones left to right with `indexOf`; for `*`-only globs the leftmost placement is always safe, so
 * this runs in linear-ish time where a naive regex (`^a.*b.*c$`) can backtrack badly on hostile input.
 */
export function wildcardMatcher(segments: readonly string[]): (value: string) => boolean {
  const first = segments[0];
  if (segments.length === 1) return (value) => value === first;
  const last = segments[segments.length - 1];
  const middle = segments.slice(1, -1).filter((s) => s !== "");
  const fixed = first.length + last.length;
  return (value) => {
    if (value.length < fixed || !value.startsWith(first) || !value.endsWith(last)) return false;
    let from = first.length;
    const end = value.length - last.length;
    for (const segment of middle) {
      const at = value.indexOf(segment, from);
      if (at < 0 || at + segment.length > end) return false;
      from = at + segment.length;
    }
    return true;
  };
}
