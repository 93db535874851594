/**
 * The registry suite: a registry plugin (built-in or out-of-process, as the driver holds it) resolves a
 * good reference of each scheme it claims to a pinned plan, answers a bad reference with an error (not a
 * fault, not silence), answers `registry.credentials`, and answers a cancelled call.
 *
 * @example
 * ```ts
 * import type { Plugin } from "../api.ts";
 * import { registryConformance } from "./registry_conformance.ts";
 * declare const plugin: Plugin;
 * const checks = await registryConformance(plugin, { refs: ["mirror:tiny"] });
 * ```
 * @module
 */
import type { Plugin } from "../api.ts";
import { PlanDescriptorSchema } from "../wire_descriptors.ts";
import { callContext, type Check, check, codeOf, expect, FAULT_CODES } from "./check.ts";

/** Inputs of {@link registryConformance}. */
export interface RegistrySuiteOptions {
  /** References that must resolve (default: none; each scheme is then probed with `SCHEME:conformance`). */
  refs?: readonly string[];
  /** References that must be refused (default: `SCHEME:` followed by a control character and `..`). */
  badRefs?: readonly string[];
  /** After each call: true when the plugin is still healthy (a process that did not fault). */
  healthy?: () => boolean;
}

/** Runs the registry suite on `plugin`. */
export async function registryConformance(
  plugin: Plugin,
  options: RegistrySuiteOptions = {},
): Promise<Check[]> {
  const run = (name: string, body: () => Promise<void>) => check(name, body, "registry");
  const registry = plugin.registry;
  if (!registry) {
    return [{ suite: "registry", name: "implements registry hooks", ok: false, message: "none" }];
  }
  const healthy = () =>
    expect(options.healthy?.() ?? true, "the plugin faulted (its process died or was killed)");
  const split = (ref: string) => {
    const i = ref.indexOf(":");
    return { reference: ref, scheme: ref.slice(0, i), rest: ref.slice(i + 1) };
  };
  const checks: Check[] = [];
  checks.push(
    await run("claims at least one scheme", () => {
      expect(registry.schemes.length > 0, "schemes is empty");
      return Promise.resolve();
    }),
  );
  const good = options.refs?.length ? options.refs : null;
  for (const ref of good ?? registry.schemes.map((s) => `${s}:conformance`)) {
    checks.push(
      await run(`registry.resolve ${ref} ${good ? "gives a pinned plan" : "answers"}`, async () => {
        try {
          const plan = await registry.resolve(split(ref), callContext());
          const parsed = PlanDescriptorSchema.safeParse(plan);
          expect(parsed.success, `the plan breaks its schema: ${parsed.error?.issues[0]?.message}`);
        } catch (e) {
          const code = (e as { code?: string }).code ?? "UNTYPED";
          if (good || FAULT_CODES.includes(code)) throw e;
        }
        healthy();
      }),
    );
  }
  for (const ref of options.badRefs ?? registry.schemes.map((s) => `${s}:\u0001../..`)) {
    checks.push(
      await run(`registry.resolve ${JSON.stringify(ref)} is refused with an error`, async () => {
        const code = await codeOf(() => registry.resolve(split(ref), callContext()));
        expect(code !== null, "it resolved a bad reference");
        expect(!FAULT_CODES.includes(code), `refused with ${code}, a fault, not an error answer`);
        healthy();
      }),
    );
  }
  checks.push(
    await run("registry.credentials answers for a host it does not know", async () => {
      const answer = await registry.credentials?.("conformance.invalid", callContext()) ?? null;
      expect(answer === null || typeof answer.headers === "object", "not null and not {headers}");
      healthy();
    }),
  );
  checks.push(
    await run("a cancelled registry.resolve is answered", async () => {
      const controller = new AbortController();
      const ref = good?.[0] ?? `${registry.schemes[0]}:conformance`;
      const pending = codeOf(() => registry.resolve(split(ref), callContext(controller)));
      controller.abort();
      const code = await pending;
      expect(code === null || !FAULT_CODES.includes(code), `answered with ${code}`);
      healthy();
    }),
  );
  return checks;
}
