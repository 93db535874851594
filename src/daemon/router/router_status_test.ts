import assert from "node:assert/strict";
import type { StatusEvent } from "../../events/status_event.ts";
import type { ModelStatus } from "./router.ts";
import { RouterStatus } from "./router_status.ts";

const mmap = { status: "loading_model", phase: "mmap", path: "/m.gguf" } as const;

Deno.test("RouterStatus: a restart's load phases are `restarting` with why until ready; a failed reload's next load is plain", () => {
  const status = new RouterStatus();
  const seen: ModelStatus[] = [];
  status.listen(() => {
    throw new Error("a listener's failure is its own");
  });
  const stop = status.listen((s) => seen.push(s));
  status.phase("m", mmap);
  status.restarting("m", "crashed");
  status.phase("m", mmap);
  status.phase("m", { status: "capabilities" } as StatusEvent);
  status.ready("m");
  status.phase("m", mmap);
  status.restarting("m", "context_size");
  status.reloadFailed("m");
  status.phase("m", mmap);
  status.restarting("m", "crashed");
  status.reloadFailed("m"); // a crash's restart stays one
  status.phase("m", mmap);
  stop();
  status.phase("m", mmap);
  assert.deepEqual(seen.map((s) => [s.event.status, s.reason]), [
    ["loading_model", undefined],
    ["restarting", "crashed"],
    ["capabilities", undefined],
    ["ready", undefined],
    ["loading_model", undefined],
    ["loading_model", undefined],
    ["restarting", "crashed"],
  ]);
  assert.ok(seen.every((s) => s.model === "m"));
  assert.equal(
    seen[1]!.event.status === "restarting" && "phase" in seen[1]!.event && seen[1]!.event.phase,
    "mmap",
  );
});
