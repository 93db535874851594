import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { findHeadEnd, parseRange, parseRequestHead, responseHead } from "./http_wire.ts";

Deno.test("parseRange: single ranges, suffix, open end, clamping", () => {
  assertEquals(parseRange("bytes=0-9", 100), { start: 0, end: 9 });
  assertEquals(parseRange("bytes=90-", 100), { start: 90, end: 99 });
  assertEquals(parseRange("bytes=90-500", 100), { start: 90, end: 99 });
  assertEquals(parseRange("bytes=-10", 100), { start: 90, end: 99 });
  assertEquals(parseRange("bytes=-500", 100), { start: 0, end: 99 });
});

Deno.test("parseRange: unsatisfiable and ignored forms", () => {
  assertEquals(parseRange("bytes=100-", 100), "unsatisfiable");
  assertEquals(parseRange("bytes=-0", 100), "unsatisfiable");
  assertEquals(parseRange("bytes=0-", 0), "unsatisfiable");
  assertEquals(parseRange(undefined, 100), "none");
  assertEquals(parseRange("bytes=0-1,5-6", 100), "none");
  assertEquals(parseRange("items=0-1", 100), "none");
  assertEquals(parseRange("bytes=9-1", 100), "none");
  assertEquals(parseRange("bytes=-", 100), "none");
});

Deno.test("parseRequestHead: request line and headers", () => {
  const head = parseRequestHead(
    "GET /a?b=1 HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\nX-A: 1\r\nx-a: 2\r\n\r\n",
  );
  assertEquals(head, {
    method: "GET",
    target: "/a?b=1",
    version: "HTTP/1.1",
    headers: { host: "x", range: "bytes=0-1", "x-a": "1, 2" },
  });
  assertEquals(parseRequestHead("garbage\r\n\r\n"), undefined);
  assertEquals(parseRequestHead("GET / HTTP/2\r\n\r\n"), undefined);
  assertEquals(parseRequestHead("GET / HTTP/1.1\r\nno-colon\r\n\r\n"), undefined);
});

Deno.test("findHeadEnd and responseHead", () => {
  const b = new TextEncoder().encode("GET / HTTP/1.1\r\n\r\nrest");
  assertEquals(findHeadEnd(b, b.length), 18);
  assertEquals(findHeadEnd(b, 17), -1);
  assertEquals(
    responseHead(416, { "content-range": "bytes */5" }),
    "HTTP/1.1 416 Range Not Satisfiable\r\ncontent-range: bytes */5\r\n\r\n",
  );
});
