import assert from "node:assert/strict";
import { withTempDir } from "../../../tests/support/temp_dir.ts";
import { isLodeError } from "../../errors.ts";
import { type BatchResultLine, openBatchFiles } from "./batch_files.ts";
import { checkFingerprint, fingerprintPath } from "./batch_fingerprint.ts";

const line = (id: string): BatchResultLine => ({
  id: `batch_req_${id}`,
  custom_id: id,
  response: { status_code: 200, request_id: `req_${id}`, body: {} },
  error: null,
});

Deno.test("results are appended as whole lines and read back as answered", async () => {
  await withTempDir(async (dir) => {
    const paths = { output: `${dir}/out.jsonl`, errors: `${dir}/out.errors.jsonl` };
    const files = await openBatchFiles(paths);
    assert.equal(files.resumed, false);
    await Promise.all([
      files.write(line("a"), false),
      files.write(line("b"), true),
      files.write(line("c"), false),
    ]);
    await files.close();
    await files.close();
    const out = (await Deno.readTextFile(paths.output)).trim().split("\n").map((l) =>
      JSON.parse(l).custom_id
    );
    assert.deepEqual(out, ["a", "c"]);
    const again = await openBatchFiles(paths);
    assert.deepEqual([...again.answered].sort(), ["a", "b", "c"]);
    assert.equal(again.failedBefore, 1);
    assert.equal(again.resumed, true);
    await again.close();
  });
});

Deno.test("a line cut short is cut off, and the next result follows the last whole line", async () => {
  await withTempDir(async (dir) => {
    const paths = { output: `${dir}/out.jsonl`, errors: `${dir}/e.jsonl` };
    const whole = JSON.stringify(line("a")) + "\n";
    await Deno.writeTextFile(paths.output, whole + JSON.stringify(line("b")).slice(0, 30));
    const files = await openBatchFiles(paths);
    assert.deepEqual([...files.answered], ["a"]);
    await files.write(line("c"), false);
    await files.close();
    assert.equal(await Deno.readTextFile(paths.output), whole + JSON.stringify(line("c")) + "\n");
  });
});

Deno.test("retryErrors empties the error file; restart empties both", async () => {
  await withTempDir(async (dir) => {
    const paths = { output: `${dir}/out.jsonl`, errors: `${dir}/e.jsonl` };
    const files = await openBatchFiles(paths);
    await files.write(line("a"), false);
    await files.write(line("b"), true);
    await files.close();
    const retry = await openBatchFiles({ ...paths, retryErrors: true });
    assert.deepEqual([...retry.answered], ["a"]);
    await retry.close();
    assert.equal(await Deno.readTextFile(paths.errors), "");
    const restart = await openBatchFiles({ ...paths, restart: true });
    assert.equal(restart.answered.size, 0);
    await restart.close();
    assert.equal(await Deno.readTextFile(paths.output), "");
  });
});

Deno.test("a fingerprint that changed is refused with BATCH_CHANGED naming what changed, unless restarting", async () => {
  await withTempDir(async (dir) => {
    const output = `${dir}/out.jsonl`;
    const fp = { model: "m", model_sha256: "aa", input_sha256: "bb", context_size: null };
    await checkFingerprint(output, fp, { hasAnswers: false, restart: false });
    await checkFingerprint(output, fp, { hasAnswers: true, restart: false });
    const changed = { ...fp, model_sha256: "cc", input_sha256: "dd" };
    await assert.rejects(
      checkFingerprint(output, changed, { hasAnswers: true, restart: false }),
      (e) =>
        isLodeError(e, "BATCH_CHANGED") && /model_sha256, input_sha256/.test(e.message) &&
        /--restart/.test(e.hint),
    );
    await checkFingerprint(output, changed, { hasAnswers: true, restart: true });
    assert.equal(JSON.parse(await Deno.readTextFile(fingerprintPath(output))).model_sha256, "cc");
    await Deno.remove(fingerprintPath(output));
    await assert.rejects(
      checkFingerprint(output, changed, { hasAnswers: true, restart: false }),
      (e) => isLodeError(e, "BATCH_CHANGED") && /no lode batch wrote/.test(e.message),
    );
  });
});

Deno.test("the tokens of the output's answers are summed when the files are opened again", async () => {
  await withTempDir(async (dir) => {
    const paths = { output: `${dir}/out.jsonl`, errors: `${dir}/e.jsonl` };
    const answered = (id: string, prompt: number, completion: number): BatchResultLine => ({
      ...line(id),
      response: {
        status_code: 200,
        request_id: `req_${id}`,
        body: {
          usage: { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion },
        },
      },
    });
    const files = await openBatchFiles(paths);
    assert.deepEqual(files.usageBefore.total_tokens, 0);
    await files.write(answered("a", 5, 7), false);
    await files.write(answered("b", 3, 2), false);
    await files.write({ ...line("c"), response: { status_code: 400, request_id: "r", body: {} } }, true);
    await files.close();
    const again = await openBatchFiles(paths);
    assert.deepEqual(again.usageBefore, {
      input_tokens: 8,
      input_tokens_details: { cached_tokens: 0 },
      output_tokens: 9,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: 17,
    });
    await again.close();
  });
});
