import assert from "node:assert/strict";
import { LodeError } from "../errors.ts";
import { parseArgv, type ProgramSpec } from "./args.ts";
import {
  explicitLoadFlags,
  LOAD_OPTIONS,
  parseGenerateFlags,
  parseLoadFlags,
  SAMPLING_OPTIONS,
  unescapeStop,
} from "./inference_flags.ts";

const PROGRAM: ProgramSpec = {
  name: "lode",
  summary: "",
  version: "0",
  global: [],
  commands: [{
    name: "run",
    summary: "",
    args: [],
    options: [...SAMPLING_OPTIONS, ...LOAD_OPTIONS],
    examples: [],
  }],
  examples: [],
};
const options = (...argv: string[]) => parseArgv(["run", ...argv], PROGRAM).options;

function usageError(message: RegExp): (e: unknown) => boolean {
  return (e) => e instanceof LodeError && e.code === "USAGE" && message.test(e.message);
}

Deno.test("load flags: defaults never oversubscribe; values pass through", () => {
  assert.deepEqual(parseLoadFlags(options(), 2), { threads: 1, gpu: "auto", cpus: "auto" });
  assert.deepEqual(parseLoadFlags(options(), 16), { threads: 4, gpu: "auto", cpus: "auto" });
  assert.deepEqual(
    parseLoadFlags(
      options(
        "--threads",
        "3",
        "--ctx-size",
        "512",
        "--gpu",
        "OFF",
        "--no-memory-check",
        "--cpu-affinity",
        "off",
      ),
      2,
    ),
    { threads: 3, gpu: "off", contextSize: 512, memoryCheck: false, cpus: "off" },
  );
  assert.equal(parseLoadFlags(options("--gpu", "12")).gpu, 12);
  assert.equal(parseLoadFlags(options("--gpu", "0")).gpu, 0);
  assert.deepEqual(parseLoadFlags(options("--cpu-affinity", "1")).cpus, [1]);
  assert.deepEqual(parseLoadFlags(options("--cpu-affinity", "0-2,5")).cpus, [0, 1, 2, 5]);
});

Deno.test("load flags: bad values are USAGE errors naming the flag", () => {
  for (
    const [argv, message] of [
      [["--threads", "0"], /--threads must be a whole number 1 or more, got "0"/],
      [["--threads", "two"], /--threads/],
      [["--threads", "1.5"], /--threads/],
      [["--ctx-size", "-5"], /--ctx-size/],
      [["--ctx-size", ""], /--ctx-size/],
      [["--gpu", "cuda"], /--gpu must be auto, off or a number of layers, got "cuda"/],
      [["--gpu", "-1"], /--gpu/],
      [
        ["--cpu-affinity", "fast"],
        /--cpu-affinity must be auto, off or a CPU list such as 1 or 0-3, got "fast"/,
      ],
      [["--cpu-affinity", "3-1"], /--cpu-affinity/],
    ] as const
  ) {
    assert.throws(() => parseLoadFlags(options(...argv)), usageError(message), argv.join(" "));
  }
});

Deno.test("generate flags: every sampling option, with the spec's defaults", async () => {
  const { options: o, warnings } = await parseGenerateFlags(options(
    "--temperature",
    "0.7",
    "--seed",
    "42",
    "--top-k",
    "40",
    "--top-p",
    "0.95",
    "--repeat-penalty",
    "1.1",
    "--stop",
    "a,b",
    "--stop",
    "\\nUser:",
  ));
  assert.deepEqual(o, {
    maxTokens: 256,
    temperature: 0.7,
    seed: 42,
    topK: 40,
    topP: 0.95,
    repeatPenalty: 1.1,
    stop: ["a,b", "\nUser:"],
  });
  assert.deepEqual(warnings, []);
  const defaults = await parseGenerateFlags(options());
  assert.deepEqual(defaults.options, { maxTokens: 256, temperature: 0.8 });
});

Deno.test("generate flags: top-k/top-p at temperature 0 warn (greedy ignores them)", async () => {
  const { warnings } = await parseGenerateFlags(options("-t", "0", "--top-k", "5", "--top-p", "0.5"));
  assert.deepEqual(warnings, [
    "--top-k has no effect at --temperature 0 (greedy decoding)",
    "--top-p has no effect at --temperature 0 (greedy decoding)",
  ]);
});

Deno.test("generate flags: bad values are USAGE errors naming the flag", async () => {
  for (
    const [argv, message] of [
      [["--max-tokens", "0"], /--max-tokens must be a whole number 1 or more/],
      [["--max-tokens", "ten"], /--max-tokens/],
      [["--temperature", "-1"], /--temperature must be a number from 0 to 100, got "-1"/],
      [["--temperature", "hot"], /--temperature/],
      [["--seed", "-3"], /--seed/],
      [["--seed", "4294967296"], /--seed must be a whole number from 0 to 4294967295/],
      [["--top-k", "2.5"], /--top-k/],
      [["--top-p", "1.5"], /--top-p must be a number from 0 to 1/],
      [["--repeat-penalty", "0"], /--repeat-penalty must be more than 0/],
      [["--repeat-penalty", "NaN"], /--repeat-penalty/],
      [["--stop", ""], /--stop needs a non-empty text/],
    ] as const
  ) {
    await assert.rejects(parseGenerateFlags(options(...argv)), usageError(message), argv.join(" "));
  }
});

Deno.test("--json-schema: read and parsed; missing, broken or non-object files are SCHEMA_INVALID with the path", async () => {
  const files: Record<string, string> = {
    "ok.json": '{"type":"object","properties":{"name":{"type":"string"}}}',
    "broken.json": '{"type": ',
    "array.json": "[1, 2]",
  };
  const readTextFile = (path: string) =>
    path in files ? Promise.resolve(files[path]!) : Promise.reject(new Deno.errors.NotFound(path));
  const ok = await parseGenerateFlags(options("--json-schema", "ok.json"), { readTextFile });
  assert.deepEqual(ok.options.jsonSchema, { type: "object", properties: { name: { type: "string" } } });
  await assert.rejects(
    parseGenerateFlags(options("--json-schema", "missing.json"), { readTextFile }),
    (e) =>
      e instanceof LodeError && e.code === "FILE_NOT_FOUND" && e.exitCode === 3 &&
      e.message === "--json-schema missing.json: no such file" && e.details.path === "missing.json",
  );
  for (
    const [path, why] of [
      ["broken.json", /not valid JSON/],
      ["array.json", /must be a JSON object/],
    ] as const
  ) {
    await assert.rejects(
      parseGenerateFlags(options("--json-schema", path), { readTextFile }),
      (e) =>
        e instanceof LodeError && e.code === "SCHEMA_INVALID" && e.exitCode === 2 &&
        e.message.startsWith(`--json-schema ${path}: `) && why.test(e.message) && e.details.path === path,
      path,
    );
  }
});

Deno.test("--stop escapes: \\n \\r \\t \\\\, anything else is literal", () => {
  assert.equal(unescapeStop("\\n"), "\n");
  assert.equal(unescapeStop("a\\tb\\r\\\\n"), "a\tb\r\\n");
  assert.equal(unescapeStop("\\x"), "\\x");
});

Deno.test("explicitLoadFlags: only the load flags typed (a daemon would not apply them)", () => {
  assert.deepEqual(explicitLoadFlags(options()), []);
  assert.deepEqual(explicitLoadFlags(options("-t", "0")), []);
  assert.deepEqual(explicitLoadFlags(options("--gpu", "auto", "--ctx-size", "512")), ["--ctx-size", "--gpu"]);
  assert.deepEqual(explicitLoadFlags(options("--threads", "2", "--no-memory-check")), [
    "--threads",
    "--no-memory-check",
  ]);
});
