import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { defaultThreads, MAX_DEFAULT_THREADS } from "./default_threads.ts";

Deno.test("defaultThreads leaves one core free and stays between 1 and 4", () => {
  const cases: [number, number][] = [[1, 1], [2, 1], [3, 2], [4, 3], [5, 4], [8, 4], [64, 4], [0, 1], [
    NaN,
    1,
  ]];
  for (const [cpus, expected] of cases) assertEquals(defaultThreads(cpus), expected, `cpus=${cpus}`);
  assertEquals(MAX_DEFAULT_THREADS, 4);
});

Deno.test("defaultThreads reads navigator.hardwareConcurrency by default", () => {
  assertEquals(defaultThreads(), defaultThreads(navigator.hardwareConcurrency));
});
