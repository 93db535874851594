import assert from "node:assert/strict";
import { ERROR_CODES } from "../../errors.ts";
import { AdminFrame, ErrorFrame, OPS, PROTOCOL_VERSION, Request, ResponseFrame } from "./protocol.ts";
import { decodeRequest, errorFrame, frameTooLargeFrame, idFromPrefix } from "./decode_request.ts";
import { samplingOptions } from "./protocol_backend.ts";
import { LodeError } from "../../errors.ts";
import { loadedFrame } from "../../../tests/support/loaded_frame.ts";

function ok(line: string | Uint8Array): Request {
  const r = decodeRequest(line);
  if (!r.ok) assert.fail(`expected a request, got ${JSON.stringify(r.error)}`);
  return r.request;
}

function err(line: string | Uint8Array): ErrorFrame {
  const r = decodeRequest(line);
  if (r.ok) assert.fail(`expected an error, got ${JSON.stringify(r.request)}`);
  // Every error frame is a valid frame of the protocol, with a catalogued code and a hint.
  ErrorFrame.parse(r.error);
  assert.ok(r.error.code in ERROR_CODES, r.error.code);
  assert.ok(r.error.hint && r.error.hint.length > 10);
  return r.error;
}

Deno.test("protocol: the ops, in order, and the version", () => {
  assert.deepEqual(OPS, [
    "generate",
    "chat",
    "embed",
    "tokenize",
    "detokenize",
    "render_chat",
    "models",
    "load",
    "unload",
    "cancel",
    "health",
    "job_submit",
    "job_list",
    "job_get",
    "job_watch",
    "job_cancel",
    "job_resume",
  ]);
  assert.equal(PROTOCOL_VERSION, 1);
});

Deno.test("decodeRequest: one valid line of every op", () => {
  const lines: Record<string, string> = {
    generate:
      '{"id":"g1","op":"generate","model":"stories","prompt":"Once","max_tokens":40,"temperature":0,"seed":1,"top_k":40,"top_p":0.9,"stop":["\\n"],"repeat_penalty":1.1}',
    chat: '{"id":"c1","op":"chat","model":"m","messages":[{"role":"user","content":"Hi"}]}',
    embed: '{"id":"e1","op":"embed","model":"m","input":["a","b"]}',
    tokenize: '{"id":"t1","op":"tokenize","model":"m","text":"hello"}',
    detokenize: '{"id":"d1","op":"detokenize","model":"m","tokens":[403,407]}',
    render_chat: '{"id":"p1","op":"render_chat","model":"m","messages":[{"role":"user","content":"Hi"}]}',
    models: '{"id":"m1","op":"models"}',
    load: '{"id":"l1","op":"load","model":"m","context_size":2048,"keep_alive_ms":60000}',
    unload: '{"id":"u1","op":"unload","model":"m"}',
    cancel: '{"id":"x1","op":"cancel","target":"g1"}',
    health: '{"id":"h1","op":"health","v":1}',
    job_submit:
      '{"id":"j1","op":"job_submit","kind":"model-download","spec":{"ref":"hf:o/r:Q8_0"},"cwd":"/home/me"}',
    job_list: '{"id":"j2","op":"job_list"}',
    job_get: '{"id":"j3","op":"job_get","job":"0mxcvkjhg-8180b3"}',
    job_watch: '{"id":"j4","op":"job_watch","job":"0mxcvkjhg-8180b3","since":3}',
    job_cancel: '{"id":"j5","op":"job_cancel","job":"0mxcvkjhg-8180b3"}',
    job_resume: '{"id":"j6","op":"job_resume","job":"0mxcvkjhg-8180b3"}',
  };
  assert.deepEqual(Object.keys(lines), [...OPS]);
  for (const [op, line] of Object.entries(lines)) {
    const request = ok(line);
    assert.equal(request.op, op);
    assert.equal(request.id, JSON.parse(line).id);
  }
  const g = ok(lines.generate!);
  assert.ok(g.op === "generate");
  assert.deepEqual(samplingOptions(g), {
    maxTokens: 40,
    temperature: 0,
    seed: 1,
    topK: 40,
    topP: 0.9,
    repeatPenalty: 1.1,
    stop: ["\n"],
  });
  // Bytes decode like strings; a single embed input string is accepted as is.
  const e = ok(new TextEncoder().encode('{"id":"e2","op":"embed","model":"m","input":"one"}'));
  assert.ok(e.op === "embed" && e.input === "one");
});

Deno.test("decodeRequest: unknown fields are ignored, a single stop string becomes a list", () => {
  const r = ok('{"id":"1","op":"generate","model":"m","prompt":"p","stream":true,"n":1,"stop":"END"}');
  assert.ok(r.op === "generate");
  assert.equal("stream" in r, false);
  assert.deepEqual(samplingOptions(r), { stop: ["END"] });
});

Deno.test("decodeRequest: health and tokenize, checked by hand, decode exactly as the schema decodes them", () => {
  const lines: Record<string, unknown>[] = [
    { id: "h", op: "health" },
    { id: "h", op: "health", v: 1, extra: [1] },
    { id: "t", op: "tokenize", model: "m", text: "Once upon a time" },
    { id: "t", op: "tokenize", model: "m", text: "", v: 1, stream: true },
    { id: "t", op: "tokenize", model: "m".repeat(1024), text: "x" },
    // Every way to be wrong: the schema's answer (and error) stands.
    { id: "t", op: "tokenize", model: "m".repeat(1025), text: "x" },
    { id: "t", op: "tokenize", model: "", text: "x" },
    { id: "t", op: "tokenize", model: 7, text: "x" },
    { id: "t", op: "tokenize", text: "x" },
    { id: "t", op: "tokenize", model: "m" },
    { id: "t", op: "tokenize", model: "m", text: ["x"] },
    { id: "t", op: "tokenize", model: "m", text: null },
  ];
  for (const line of lines) {
    const schema = Request.safeParse(line);
    const decoded = decodeRequest(JSON.stringify(line));
    assert.equal(decoded.ok, schema.success, JSON.stringify(line));
    if (decoded.ok && schema.success) assert.deepEqual(decoded.request, schema.data, JSON.stringify(line));
  }
});

Deno.test("decodeRequest: not UTF-8 or not JSON is BAD_JSON with no id", () => {
  const notJson = err('{"id":"1","op":');
  assert.equal(notJson.code, "BAD_JSON");
  assert.equal(notJson.id, null);
  assert.match(notJson.message, /not JSON/);
  const garbage = err("\u0000\u0001garbage");
  assert.equal(garbage.code, "BAD_JSON");
  const badUtf8 = err(new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]));
  assert.equal(badUtf8.code, "BAD_JSON");
  assert.match(badUtf8.message, /UTF-8/);
});

Deno.test("decodeRequest: JSON that is not an object, or has no readable id, is BAD_REQUEST with id null", () => {
  for (const line of ["[1,2]", "42", "null", '"s"']) {
    const e = err(line);
    assert.equal(e.code, "BAD_REQUEST", line);
    assert.equal(e.id, null);
  }
  for (const line of ['{"op":"health"}', '{"id":7,"op":"health"}', '{"id":"","op":"health"}']) {
    const e = err(line);
    assert.equal(e.code, "BAD_REQUEST", line);
    assert.equal(e.id, null);
    assert.deepEqual(e.details, { field: "id" });
  }
  const long = err(JSON.stringify({ id: "x".repeat(257), op: "health" }));
  assert.deepEqual(long.details, { field: "id" });
});

Deno.test("decodeRequest: a missing or unknown op keeps the id", () => {
  const missing = err('{"id":"a"}');
  assert.equal(missing.code, "BAD_REQUEST");
  assert.equal(missing.id, "a");
  assert.deepEqual(missing.details, { field: "op" });
  const unknown = err('{"id":"b","op":"explode"}');
  assert.equal(unknown.code, "UNKNOWN_OP");
  assert.equal(unknown.id, "b");
  assert.match(unknown.message, /"explode".*generate, chat/);
  assert.equal(err('{"id":"c","op":42}').code, "UNKNOWN_OP");
});

Deno.test("decodeRequest: a missing or invalid field is BAD_REQUEST naming the field, what was expected and found", () => {
  const cases: [string, string, RegExp][] = [
    [
      '{"id":"1","op":"generate","model":"m"}',
      "prompt",
      /^generate request is invalid at prompt: missing \(expected a string\)$/,
    ],
    ['{"id":"1","op":"generate","prompt":"p"}', "model", /at model: missing \(expected a string\)/],
    [
      '{"id":"1","op":"generate","model":"m","prompt":"p","max_tokens":-1}',
      "max_tokens",
      /greater than 0, found -1/,
    ],
    [
      '{"id":"1","op":"generate","model":"m","prompt":"p","temperature":"hot"}',
      "temperature",
      /expected a number, found "hot"/,
    ],
    ['{"id":"1","op":"generate","model":"m","prompt":"p","top_p":0}', "top_p", /greater than 0, found 0/],
    [
      '{"id":"1","op":"generate","model":"m","prompt":"p","stop":["a",""]}',
      "stop.1",
      /stop\[1\]: expected a non-empty string/,
    ],
    [
      '{"id":"1","op":"generate","model":"m","prompt":"p","stop":5}',
      "stop",
      /expected a string or a list, found 5/,
    ],
    [
      '{"id":"1","op":"chat","model":"m","messages":[]}',
      "messages",
      /expected a non-empty list, found an empty list/,
    ],
    [
      '{"id":"1","op":"chat","model":"m","messages":[{"role":"robot","content":"x"}]}',
      "messages.0.role",
      /messages\[0\]\.role: expected one of "system", "user", "assistant", "tool", found "robot"/,
    ],
    ['{"id":"1","op":"embed","model":"m","input":[1]}', "input.0", /input\[0\]: expected a string, found 1/],
    ['{"id":"1","op":"tokenize","model":"m"}', "text", /missing/],
    ['{"id":"1","op":"cancel"}', "target", /missing/],
    ['{"id":"1","op":"load","model":""}', "model", /expected a non-empty string, found ""/],
  ];
  for (const [line, field, message] of cases) {
    const e = err(line);
    assert.equal(e.code, "BAD_REQUEST", line);
    assert.equal(e.id, "1", line);
    assert.equal(e.details?.field, field, line);
    const issues = e.details?.issues as {
      path: string;
      expected: string;
      received: string;
      message: string;
    }[];
    assert.equal(issues.length, 1, line);
    assert.deepEqual(Object.keys(issues[0]!).sort(), ["expected", "message", "path", "received"], line);
    assert.equal(issues[0]!.path.replace(/\[(\d+)\]/g, ".$1"), field, line);
    assert.match(e.message, message, line);
    assert.doesNotMatch(e.message, /invalid_type|"code"/, line);
  }
});

Deno.test("decodeRequest: another protocol version is refused naming v", () => {
  const e = err('{"id":"1","op":"health","v":2}');
  assert.equal(e.code, "BAD_REQUEST");
  assert.deepEqual(e.details, { field: "v" });
  assert.match(e.message, /speaks 1/);
});

Deno.test("idFromPrefix reads the id of a line too long to parse", () => {
  assert.equal(idFromPrefix('{"id":"big-1","op":"embed","input":"aaaa'), "big-1");
  assert.equal(idFromPrefix(' { "op":"embed", "id" : "k\\"q" ,"input":"aaaa'), 'k"q');
  assert.equal(idFromPrefix('{"op":"embed","input":"aaaa'), null);
  assert.equal(idFromPrefix("garbage"), null);
  assert.equal(idFromPrefix('{"id":7}'), null);
  const frame = frameTooLargeFrame("big-1", 1024);
  assert.equal(frame.code, "FRAME_TOO_LARGE");
  assert.deepEqual(frame.details, { limit: 1024 });
});

Deno.test("errorFrame: LodeErrors keep code, hint and details; anything else is INTERNAL", () => {
  const frame = errorFrame("q", new LodeError("QUEUE_FULL", "64 queued", { details: { max_queue: 64 } }));
  assert.deepEqual(frame, {
    id: "q",
    type: "error",
    code: "QUEUE_FULL",
    message: "64 queued",
    hint: ERROR_CODES.QUEUE_FULL.hint,
    details: { max_queue: 64 },
  });
  const internal = errorFrame("r", new Error("boom"));
  assert.equal(internal.code, "INTERNAL");
  assert.equal(internal.message, "boom");
  assert.equal("details" in internal, false);
  // The daemon made this connection: the hint names its settings, not the client's --ca-cert.
  const tls = errorFrame("t", new LodeError("TLS", "TLS to o.test failed: UnknownIssuer"));
  assert.equal(tls.hint, ERROR_CODES.TLS.daemon);
  assert.match(tls.hint!, /Start `lode serve` with --ca-cert FILE/);
});

Deno.test("detokenize: token ids are integers ≥ 0, else BAD_REQUEST naming the item", () => {
  const d = ok('{"id":"d","op":"detokenize","model":"m","tokens":[]}');
  assert.ok(d.op === "detokenize" && d.tokens.length === 0);
  for (
    const [tokens, field] of [["[1,-1]", "tokens.1"], ["[0.5]", "tokens.0"], ['["1"]', "tokens.0"], [
      "3",
      "tokens",
    ]]
  ) {
    const e = err(`{"id":"d","op":"detokenize","model":"m","tokens":${tokens}}`);
    assert.equal(e.code, "BAD_REQUEST");
    assert.equal(e.details?.field, field, tokens);
  }
  assert.equal(
    err('{"id":"d","op":"detokenize","model":"m"}').message,
    "detokenize request is invalid at tokens: missing (expected a list)",
  );
  const several = err('{"id":"d","op":"detokenize","model":"m","tokens":[1,-1,"x"]}');
  assert.equal(
    several.message,
    "detokenize request is invalid (2 problems):\n  tokens[1]: expected a number of at least 0, found -1\n" +
      '  tokens[2]: expected a number, found "x"',
  );
  assert.equal(several.details?.field, "tokens.1");
});

Deno.test("render_chat: messages as chat takes them, at least one", () => {
  assert.equal(err('{"id":"p","op":"render_chat","model":"m","messages":[]}').details?.field, "messages");
  assert.equal(
    err('{"id":"p","op":"render_chat","model":"m"}').message,
    "render_chat request is invalid at messages: missing (expected a list)",
  );
  const e = err('{"id":"p","op":"render_chat","model":"m","messages":[{"role":"robot","content":"x"}]}');
  assert.equal(e.details?.field, "messages.0.role");
});

Deno.test("loaded: capabilities, info and context_size are required (the daemon always knows them after a load)", () => {
  const loaded = loadedFrame("l", "m");
  assert.equal(ResponseFrame.safeParse(loaded).success, true);
  for (const field of ["capabilities", "info", "context_size"] as const) {
    const { [field]: _, ...without } = loaded;
    assert.equal(ResponseFrame.safeParse(without).success, false, field);
  }
});

Deno.test("AdminFrame: the status event's fields flattened into the admin envelope", () => {
  const frame = AdminFrame.parse({
    id: "admin",
    type: "status",
    status: "loading_model",
    phase: "download",
    downloaded_bytes: 33554432,
    total_bytes: 5126304928,
    source_url: "https://huggingface.co/x",
  });
  assert.equal("status" in frame && frame.status, "loading_model");
  assert.throws(() => AdminFrame.parse({ id: "admin", type: "status", status: "flying" }));
  assert.throws(() => AdminFrame.parse({ id: "x", type: "status", status: "ready" }));
});

Deno.test("docs/protocol.md: every example line is a valid request or frame, and every op and frame type is shown", async () => {
  const doc = await Deno.readTextFile(new URL("../../../docs/protocol.md", import.meta.url));
  const blockLines = [...doc.matchAll(/```ndjson\n([^]*?)```/g)].flatMap((m) => m[1]!.trim().split("\n"));
  const tableExamples = [...doc.matchAll(/`(\{"id":[^`]*\})`/g)].map((m) => m[1]!);
  const ops = new Set<string>();
  const types = new Set<string>();
  for (const line of [...blockLines, ...tableExamples]) {
    const value = JSON.parse(line);
    if ("op" in value) {
      const decoded = decodeRequest(line);
      assert.ok(decoded.ok, `${line}: ${JSON.stringify(!decoded.ok && decoded.error)}`);
      ops.add(value.op);
    } else if (value.id === "admin") {
      AdminFrame.parse(value);
    } else {
      const parsed = ResponseFrame.safeParse(value);
      assert.ok(parsed.success, `${line}: ${parsed.error?.message}`);
      types.add(value.type);
    }
  }
  assert.deepEqual([...ops].sort(), [...OPS].sort());
  assert.deepEqual([...types].sort(), ResponseFrame.options.map((o) => o.shape.type.value).sort());
});
