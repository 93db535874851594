/**
 * Durations on the command line (`lode gc --older-than 7d`): a whole or
 * decimal number and a unit, `s`, `m`, `h`, `d` or `w`.
 *
 * @example
 * ```ts
 * parseDuration("12h"); // 43_200_000
 * ```
 * @module
 */
import { LodeError } from "../errors.ts";

const UNIT_MS: Record<string, number> = { s: 1e3, m: 60e3, h: 3600e3, d: 86_400e3, w: 604_800e3 };

/** Milliseconds in `text` (`30m`, `12h`, `7d`, `1.5h`, `0s`); `USAGE` for anything else. */
export function parseDuration(text: string): number {
  const match = /^(\d+(?:\.\d+)?)([smhdw])$/.exec(text.trim());
  if (!match) {
    throw new LodeError("USAGE", `"${text}" is not a duration`, {
      details: { value: text },
      hint: "Write a number and a unit: 30m, 12h, 7d (s, m, h, d, w).",
    });
  }
  return Math.round(Number(match[1]) * UNIT_MS[match[2]!]!);
}

/** `3d 4h`, `25m`, `12s`: a duration for people, to the two largest units. */
export function formatDuration(ms: number): string {
  const parts: string[] = [];
  let left = Math.max(0, Math.round(ms / 1000));
  for (const [unit, seconds] of [["d", 86_400], ["h", 3600], ["m", 60], ["s", 1]] as const) {
    if (left >= seconds || (unit === "s" && parts.length === 0)) {
      parts.push(`${Math.floor(left / seconds)}${unit}`);
      left %= seconds;
    }
  }
  return parts.slice(0, 2).join(" ");
}
