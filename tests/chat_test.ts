/**
 * `lode chat` through the real CLI: piped stdin (one message per line, history kept, /reset, /exit) and
 * a real terminal driven with tmux (prompt marker, Ctrl-C stops an answer but not the program, Ctrl-C
 * twice at the prompt quits, Ctrl-D quits), on stories260K (no chat template) and on a generated model
 * with the ChatML template.
 */
import assert from "node:assert/strict";
import { DoneEvent } from "../src/events/mod.ts";
import { writeChatModel } from "./support/chat_model.ts";
import { MAIN_TS, runLode } from "./support/lode_cli.ts";
import { withTempDir } from "./support/temp_dir.ts";

const FIXTURE = new URL("./fixtures/stories260K.gguf", import.meta.url).pathname;

function hasTmux(): boolean {
  try {
    return new Deno.Command("tmux", { args: ["-V"], stdout: "null", stderr: "null" }).outputSync().success;
  } catch {
    return false;
  }
}
const NO_TMUX = !hasTmux();
if (NO_TMUX) {
  console.log(
    "skipped: lode chat terminal tests: tmux is not installed (apt-get install tmux; .ci/run installs it)",
  );
}

Deno.test("lode chat, piped: one message per line, the history grows, /reset starts over, /exit ends", async () => {
  await withTempDir(async (store) => {
    const r = await runLode(
      ["chat", `file:${FIXTURE}`, "-t", "0", "-n", "12", "--json", "--system", "Tell stories."],
      { store, input: "Once upon a time\nWhat next?\n/reset\nOnce upon a time\n/exit\nnever sent\n" },
    );
    assert.equal(r.code, 0, r.stderr);
    const done = r.events.filter((e) => e.event === "done").map((e) => DoneEvent.parse(e));
    assert.equal(done.length, 3);
    const [first, second, third] = done.map((d) => d.usage.promptTokens);
    assert.ok(second! > first! + 12, `the second turn carries the first: ${first} then ${second}`);
    assert.equal(third, first, "after /reset the conversation starts over");
    const answers: string[] = [];
    let current = "";
    for (const e of r.events) {
      if (e.event === "token") current += e.text;
      if (e.event === "done") [answers[answers.length], current] = [current, ""];
    }
    assert.equal(answers[2], answers[0], "same conversation, same greedy answer");

    const plain = await runLode(["chat", `file:${FIXTURE}`, "-t", "0", "-n", "12"], {
      store,
      input: "Hi\n\nHi\n",
    });
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout.split("\n").length, 3, "one line per answer (these answers have no newline)");
    assert.doesNotMatch(plain.stdout, />>> /, "no prompt marker without a terminal");
  });
});

/** A lode process in a tmux pane on a private tmux server. */
class TmuxChat {
  readonly #socket = `lode-test-${Deno.pid}-${Math.random().toString(36).slice(2, 8)}`;
  readonly #exitFile: string;

  private constructor(exitFile: string) {
    this.#exitFile = exitFile;
  }

  static async start(args: string[], dir: string): Promise<TmuxChat> {
    const chat = new TmuxChat(`${dir}/exit-code`);
    const quoted = [Deno.execPath(), "run", "-A", MAIN_TS, ...args].map((a) =>
      `'${a.replaceAll("'", "'\\''")}'`
    );
    const env = `env MODELS_HOME='${dir}/store' NO_COLOR=1 XDG_CONFIG_HOME='${dir}/cfg'`;
    const script = `${env} ${quoted.join(" ")}; echo $? > '${chat.#exitFile}'; sleep 5`;
    await chat.tmux("new-session", "-d", "-s", "chat", "-x", "150", "-y", "50", script);
    return chat;
  }

  async tmux(...args: string[]): Promise<string> {
    const out = await new Deno.Command("tmux", {
      args: ["-L", this.#socket, ...args],
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    if (!out.success) throw new Error(`tmux ${args[0]}: ${new TextDecoder().decode(out.stderr)}`);
    return new TextDecoder().decode(out.stdout);
  }

  /** The pane's text, history included. */
  screen(): Promise<string> {
    return this.tmux("capture-pane", "-p", "-J", "-S", "-", "-t", "chat");
  }

  keys(...keys: string[]): Promise<string> {
    return this.tmux("send-keys", "-t", "chat", ...keys);
  }

  /** Waits until the screen satisfies `check` (polling), failing with the screen after `ms`. */
  async until(what: string, check: (screen: string) => boolean, ms = 30_000): Promise<string> {
    const deadline = Date.now() + ms;
    while (true) {
      const screen = await this.screen();
      if (check(screen)) return screen;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; screen:\n${screen}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** The exit code once lode ended, or null while it runs. */
  async exitCode(): Promise<number | null> {
    try {
      return Number((await Deno.readTextFile(this.#exitFile)).trim());
    } catch {
      return null;
    }
  }

  async waitExit(ms = 15_000): Promise<number> {
    const deadline = Date.now() + ms;
    while (Date.now() < deadline) {
      const code = await this.exitCode();
      if (code !== null) return code;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`lode chat did not exit; screen:\n${await this.screen()}`);
  }

  async close(): Promise<void> {
    await this.tmux("kill-server").catch(() => {});
  }
}

const markers = (screen: string) =>
  screen.split("\n").filter((l) => l.startsWith(">>> ") || l === ">>>").length;

Deno.test({
  name: "lode chat in a terminal (tmux), stories260K: prompt marker, answers, /reset, Ctrl-D quits",
  ignore: NO_TMUX,
  async fn() {
    await withTempDir(async (dir) => {
      const chat = await TmuxChat.start(["chat", `file:${FIXTURE}`, "-t", "0", "-n", "20"], dir);
      try {
        const intro = await chat.until("the prompt", (s) => markers(s) === 1);
        assert.match(intro, /chatting with file:.*stories260K\.gguf \(no chat template: role: text lines\)/);
        await chat.keys("Once upon a time", "Enter");
        const answered = await chat.until("the next prompt", (s) => markers(s) === 2);
        const lines = answered.split("\n");
        const asked = lines.findIndex((l) => l.startsWith(">>> Once upon a time"));
        assert.ok(asked !== -1 && lines[asked + 1]!.trim().length > 0, answered);
        await chat.keys("/reset", "Enter");
        await chat.until("the reset", (s) => s.includes("(history cleared)") && markers(s) === 3);
        assert.equal(await chat.exitCode(), null);
        await chat.keys("C-d");
        assert.equal(await chat.waitExit(), 0);
      } finally {
        await chat.close();
      }
    });
  },
});

Deno.test({
  name:
    "lode chat in a terminal (tmux), chat template: Ctrl-C stops the answer, not the program; twice at the prompt quits",
  ignore: NO_TMUX,
  async fn() {
    await withTempDir(async (dir) => {
      const model = await writeChatModel(`${dir}/chat.gguf`);
      // A long answer (thousands of tokens) so that Ctrl-C lands while it streams.
      const args = ["chat", `file:${model}`, "-t", "0", "-n", "4000", "--ctx-size", "4096"];
      const chat = await TmuxChat.start(args, dir);
      try {
        const intro = await chat.until("the prompt", (s) => markers(s) === 1);
        assert.match(intro, /\(the model's chat template\)/);
        // Two answers, each stopped by one Ctrl-C; the second shows the session still works after the first.
        for (const [question, prompts] of [["Hi", 2], ["Again", 3]] as const) {
          await chat.keys(question, "Enter");
          await chat.until(`the answer to ${question} to start`, (s) => {
            const lines = s.split("\n");
            const asked = lines.findIndex((l) => l.startsWith(`>>> ${question}`));
            return asked !== -1 && (lines[asked + 1] ?? "").trim().length > 0;
          });
          await chat.keys("C-c");
          const stopped = await chat.until(`the stopped answer to ${question}`, (s) => markers(s) >= prompts);
          assert.match(stopped, /\(answer stopped; kept in the history\)\n>>> /);
          await new Promise((r) => setTimeout(r, 500));
          const after = await chat.screen();
          assert.equal(markers(after), prompts, `one Ctrl-C is one interrupt:\n${after}`);
          assert.doesNotMatch(after, /Ctrl-C again/, "one Ctrl-C during an answer must not arm the quit");
          assert.equal(await chat.exitCode(), null, "Ctrl-C during an answer must not end lode chat");
        }
        await chat.keys("C-c");
        await chat.until("the hint", (s) => s.includes("(Ctrl-C again, /exit or Ctrl-D to quit)"));
        assert.equal(await chat.exitCode(), null, "one Ctrl-C at the prompt must not end lode chat");
        await chat.keys("C-c");
        assert.equal(await chat.waitExit(), 0);
      } finally {
        await chat.close();
      }
    });
  },
});
