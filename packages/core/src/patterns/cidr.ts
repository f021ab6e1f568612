/**
 * The `cidr` operator: does an event's IP address string fall inside a block such as `10.0.0.0/24`
 * or `2001:db8::/32`? Addresses are parsed by hand: `node:net` only says whether text is an address,
 * while matching needs its bits, and parsing here keeps to the plain textual forms EventBridge
 * recognises as addresses (no zone ids, no dotted IPv6 tails).
 */

/** A parsed CIDR block, or why the text is not one. */
export type ParsedCidr = { readonly matches: (value: string) => boolean } | { readonly error: string };

/** Parses dotted-quad IPv4 text into an unsigned 32-bit number; undefined when it is not one. */
export function parseIPv4(text: string): number | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let address = 0;
  for (const part of parts) {
    if (!/^[0-9]{1,3}$/.test(part)) return undefined;
    const octet = Number(part);
    if (octet > 255) return undefined;
    address = address * 256 + octet;
  }
  return address;
}

/** Parses IPv6 text (with at most one `::`) into eight 16-bit groups; undefined when it is not one. */
export function parseIPv6(text: string): number[] | undefined {
  if (!text.includes(":") || !/^[0-9a-fA-F:]+$/.test(text)) return undefined;
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const groupsOf = (half: string): number[] | undefined => {
    if (half === "") return [];
    const groups: number[] = [];
    for (const group of half.split(":")) {
      if (group.length < 1 || group.length > 4) return undefined;
      groups.push(Number.parseInt(group, 16));
    }
    return groups;
  };
  const head = groupsOf(halves[0]);
  const tail = halves.length === 2 ? groupsOf(halves[1]) : [];
  if (head === undefined || tail === undefined) return undefined;
  if (halves.length === 1) return head.length === 8 ? head : undefined;
  const missing = 8 - head.length - tail.length;
  // `::` stands for at least one zero group.
  if (missing < 1) return undefined;
  return [...head, ...new Array<number>(missing).fill(0), ...tail];
}

/**
 * Parses a CIDR operand and returns a matcher for event values. Host bits below the prefix are
 * ignored (`10.0.0.7/24` is `10.0.0.0/24`), as EventBridge masks them too.
 */
export function parseCidr(text: string): ParsedCidr {
  const slash = text.indexOf("/");
  if (slash < 0 || slash !== text.lastIndexOf("/")) {
    return {
      error: `"${text}" is not a CIDR block: write an address, one "/", and a prefix length, e.g. 10.0.0.0/24`,
    };
  }
  const addressText = text.slice(0, slash);
  const bitsText = text.slice(slash + 1);
  if (!/^[0-9]{1,3}$/.test(bitsText)) {
    return { error: `"${text}" is not a CIDR block: the prefix length must be a whole number` };
  }
  const bits = Number(bitsText);

  const v4 = parseIPv4(addressText);
  if (v4 !== undefined) {
    if (bits > 32) return { error: `"${text}" is not a CIDR block: an IPv4 prefix length is at most 32` };
    // Shifting by 32 is a no-op in JavaScript, so /0 gets its all-zero mask explicitly.
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0;
    const network = (v4 & mask) >>> 0;
    return {
      matches: (value) => {
        const address = parseIPv4(value);
        return address !== undefined && (address & mask) >>> 0 === network;
      },
    };
  }

  const v6 = parseIPv6(addressText);
  if (v6 !== undefined) {
    if (bits > 128) return { error: `"${text}" is not a CIDR block: an IPv6 prefix length is at most 128` };
    const masks = v6.map((_, i) => {
      const groupBits = Math.max(0, Math.min(16, bits - i * 16));
      return groupBits === 0 ? 0 : (0xffff << (16 - groupBits)) & 0xffff;
    });
    const network = v6.map((group, i) => group & masks[i]);
    return {
      matches: (value) => {
        const address = parseIPv6(value);
        if (address === undefined) return false;
        for (let i = 0; i < 8; i++) {
          if ((address[i] & masks[i]) !== network[i]) return false;
        }
        return true;
      },
    };
  }

  return { error: `"${text}" is not a CIDR block: "${addressText}" is not an IPv4 or IPv6 address` };
}
