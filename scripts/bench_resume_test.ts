import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { parseAccessLog, refetchLine, summariseRefetch } from "./bench_resume.ts";

const MIB = 2 ** 20;
const line = (endS: number, tookS: number, status: number, body: number, range = "-") =>
  `${endS.toFixed(3)} ${tookS.toFixed(3)} ${status} ${body + 300} ${body} "GET /m.gguf HTTP/1.1" "${range}"`;

Deno.test("parseAccessLog: start time, sizes, request and first range; junk lines skipped", () => {
  const text = [
    line(1000.5, 0.5, 206, 1024, "bytes=0-1023"),
    "garbage",
    "",
    line(1002, 1, 206, 10, "bytes=5000-"),
    line(1003, 3, 200, 99),
  ].join("\n");
  const es = parseAccessLog(text);
  assertEquals(es.length, 3);
  assertEquals(es[0], {
    startS: 1000,
    status: 206,
    bytesSent: 1324,
    bodyBytes: 1024,
    request: "GET /m.gguf HTTP/1.1",
    range: { start: 0, end: 1023 },
  });
  assertEquals(es[1]!.range, { start: 5000, end: null });
  assertEquals(es[2]!.range, null);
});

Deno.test("summariseRefetch: single stream without resume refetches what run 1 got", () => {
  const size = 256 * MIB;
  // Run 1 started at t=100, killed at t=105.5 after 130 MiB; its line is written later (t=105.6).
  // Run 2 starts at t=106 and fetches the whole file.
  const es = parseAccessLog([line(105.6, 5.6, 200, 130 * MIB), line(117, 11, 200, size)].join("\n"));
  const s = summariseRefetch(es, { sizeBytes: size, splitAtS: 105.5 });
  assertEquals(s.runs.map((r) => [r.requests, r.bodyBytes]), [[1, 130 * MIB], [1, size]]);
  assertEquals(s.refetchedBytes, 130 * MIB);
  assertEquals(s.singleStream, true);
  assertEquals(s.partBytes, size);
  ok(Math.abs(s.parts - 130 / 256) < 1e-12);
  assertEquals(
    refetchLine(s),
    "bytes fetched twice = 130.0 MiB (= 0.51 parts of 256.0 MiB; single stream: no ranged requests," +
      " a part = the whole file)",
  );
});

Deno.test("summariseRefetch: parts = the most common range of run 1; a resume refetches only in-flight parts", () => {
  const size = 64 * MIB;
  const part = 8 * MIB;
  const r = (i: number) => `bytes=${i * part}-${(i + 1) * part - 1}`;
  const run1 = [
    line(100.2, 0.2, 206, 4 * MIB, "bytes=0-4194303"), // the probe
    line(101, 0.9, 206, part, r(1)),
    line(101, 0.9, 206, part, r(2)),
    line(101.6, 1.5, 206, 5 * MIB, r(3)), // in flight at the kill
    line(101.7, 1.6, 206, 3 * MIB, r(4)), // in flight at the kill
  ];
  const run2 = [
    line(102.2, 0.1, 206, 4 * MIB, "bytes=4194304-8388607"),
    line(103, 0.9, 206, part, r(3)),
    line(103, 0.9, 206, part, r(4)),
    ...[5, 6, 7].map((i) => line(103, 0.9, 206, part, r(i))),
  ];
  const s = summariseRefetch(parseAccessLog([...run1, ...run2].join("\n")), {
    sizeBytes: size,
    splitAtS: 101.5,
  });
  assertEquals(s.runs.map((x) => x.requests), [5, 6]);
  assertEquals(s.totalBodyBytes, size + 8 * MIB);
  assertEquals(s.refetchedBytes, 8 * MIB);
  assertEquals(s.singleStream, false);
  assertEquals(s.partBytes, part);
  assertEquals(s.parts, 1);
  assertEquals(refetchLine(s), "bytes fetched twice = 8.0 MiB (= 1.00 parts of 8.0 MiB)");
});

Deno.test("summariseRefetch: an error response counts in bytes sent, not in the file's bytes", () => {
  const es = parseAccessLog(
    [line(1, 1, 416, 197, "bytes=10-9"), line(3, 1, 206, 1000, "bytes=0-999")].join("\n"),
  );
  const s = summariseRefetch(es, { sizeBytes: 1000, splitAtS: 0 });
  assertEquals(s.runs[1], { requests: 2, bodyBytes: 1000, bytesSent: 1797, statuses: "1×206, 1×416" });
  assertEquals(s.refetchedBytes, 0);
});

Deno.test("summariseRefetch: less than the file in total means nothing was fetched twice", () => {
  const s = summariseRefetch(parseAccessLog(line(10, 1, 200, 100)), { sizeBytes: 1000, splitAtS: 5 });
  assertEquals(s.refetchedBytes, 0);
  assertEquals(s.runs[0]!.requests, 0);
  assertEquals(s.runs[1]!.requests, 1);
});
