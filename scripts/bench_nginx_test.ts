import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { makeTestCa } from "../tests/support/test_ca.ts";
import { exec, type NginxServer, spawnTracked, startNginx } from "./bench_nginx.ts";
import { parseAccessLog } from "./bench_resume.ts";

const NGINX = ["/usr/sbin/nginx", "/usr/bin/nginx"].find((p) => {
  try {
    return Deno.statSync(p).isFile;
  } catch {
    return false;
  }
});
const MIB = 2 ** 20;
if (!NGINX) console.log("bench_nginx_test.ts: SKIPPED, nginx is not installed (apt-get install -y nginx)");

Deno.test({
  name: "startNginx: limit_rate is bytes per second per request; the access log has ranges and body bytes",
  ignore: !NGINX,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "bench-nginx-" });
    let server: NginxServer | null = null;
    try {
      await Deno.chmod(dir, 0o755);
      await Deno.mkdir(`${dir}/www`, { mode: 0o755 });
      await Deno.writeFile(`${dir}/www/f`, new Uint8Array(3 * MIB), { mode: 0o644 });
      await Deno.chmod(`${dir}/www/f`, 0o644);
      const ca = await makeTestCa(`${dir}/ca`);
      const accessLog = `${dir}/access.log`;
      server = await startNginx(NGINX!, `${dir}/nginx`, {
        www: `${dir}/www`,
        ...ca,
        limitRate: 2 * MIB,
        accessLog,
      });
      const curl = (...args: string[]) =>
        exec("curl", ["-sf", "--cacert", ca.caCertPath, "-o", "/dev/null", ...args, `${server!.url}/f`]);
      const t0 = performance.now();
      assertEquals((await curl()).code, 0);
      const s = (performance.now() - t0) / 1000;
      ok(s > 0.9, `3 MiB at 2 MiB/s took ${s} s: the rate limit applies`);
      assertEquals((await curl("-r", "100-199")).code, 0);
      await server.stop();
      const [full, ranged] = parseAccessLog(await Deno.readTextFile(accessLog));
      assertEquals([full!.status, full!.bodyBytes, full!.range], [200, 3 * MIB, null]);
      ok(full!.bytesSent > full!.bodyBytes);
      assertEquals([ranged!.status, ranged!.bodyBytes, ranged!.range], [206, 100, { start: 100, end: 199 }]);
      ok(ranged!.startS >= full!.startS + 0.9);
    } finally {
      await server?.stop();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("spawnTracked: stdout to read, stderr collected, a kill is seen in the status", async () => {
  const { child, stderr } = spawnTracked("sh", ["-c", "echo err >&2; echo out; exec sleep 30"]);
  const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  assertEquals((await reader.read()).value, "out\n");
  child.kill("SIGKILL");
  assertEquals((await child.status).signal, "SIGKILL");
  reader.releaseLock();
  assertEquals(await stderr, "err\n");
});
