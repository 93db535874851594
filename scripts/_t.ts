import { writeRecords } from "./bench_jobs.ts";
import { JobRecords } from "../src/jobs/job_record.ts";
await Deno.remove("/tmp/bj/s", { recursive: true }).catch(() => {});
await writeRecords("/tmp/bj/s", 1000);
const r = new JobRecords("/tmp/bj/s");
for (let i = 0; i < 3; i++) {
  const t = performance.now();
  const l = await r.list();
  console.log(l.length, performance.now() - t);
}
