import assert from "node:assert/strict";
import { parseMemAvailable, readMemAvailable } from "./mem_available.ts";

Deno.test("parseMemAvailable reads the kB line", () => {
  const text =
    "MemTotal:       32768000 kB\nMemFree:         1000 kB\nMemAvailable:   24069192 kB\nBuffers: 1 kB\n";
  assert.equal(parseMemAvailable(text), 24069192 * 1024);
  assert.equal(parseMemAvailable("MemTotal: 1 kB\n"), undefined);
});

Deno.test("readMemAvailable: /proc/meminfo, else the system's figure, else undefined", async () => {
  const real = await readMemAvailable();
  if (Deno.build.os === "linux") assert.ok(real !== undefined && real > 0, String(real));
  const noProc = () => Promise.reject(new Deno.errors.NotFound("no /proc"));
  assert.equal(await readMemAvailable({ readTextFile: noProc, systemAvailable: () => 12345 }), 12345);
  assert.equal(await readMemAvailable({ readTextFile: noProc, systemAvailable: () => 0 }), undefined);
  const throwing = () => {
    throw new Error("unsupported");
  };
  assert.equal(await readMemAvailable({ readTextFile: noProc, systemAvailable: throwing }), undefined);
  const proc = () => Promise.resolve("MemAvailable: 2 kB\n");
  assert.equal(await readMemAvailable({ readTextFile: proc, systemAvailable: () => 1 }), 2048);
});
