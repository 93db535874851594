/**
 * The schemas of what an out-of-process plugin answers (api.ts's descriptors), checked before anything
 * it said reaches lode: an answer that breaks its schema is a `PLUGIN_PROTOCOL` naming the field.
 *
 * @example
 * ```ts
 * import { PlanDescriptorSchema } from "./wire_descriptors.ts";
 * PlanDescriptorSchema.safeParse({ name: "tiny" }).success; // false
 * ```
 * @module
 */
import { z } from "zod";
import { Capabilities } from "../events/status_event.ts";
import { StopReason, Usage } from "../events/inference_event.ts";
import { schemaError } from "../schema/schema_error.ts";
import type { LodeError } from "../errors.ts";

const SHA256 = /^[0-9a-f]{64}$/;

/** api.ts's `FileDescriptor`. */
export const FileDescriptorSchema = z.object({
  role: z.string().min(1),
  filename: z.string().min(1),
  urls: z.array(z.string().url()).min(1),
  sha256: z.string().regex(SHA256, "64 lowercase hex digits"),
  sizeBytes: z.number().int().nonnegative(),
  headers: z.record(z.string()).optional(),
  optional: z.boolean().optional(),
});

/** api.ts's `PlanDescriptor`. */
export const PlanDescriptorSchema = z.object({
  name: z.string().min(1),
  reference: z.string().min(1),
  source: z.object({ registry: z.string(), repo: z.string(), revision: z.string() }),
  files: z.array(FileDescriptorSchema).min(1),
  license: z.string().nullable().optional(),
  format: z.string().optional(),
  allowHosts: z.array(z.string()).optional(),
  accessHint: z.string().optional(),
});

/** api.ts's `Credentials`, or null. */
export const CredentialsSchema = z.object({ headers: z.record(z.string()) }).nullable();

/** api.ts's `ProbeDescriptor`. */
export const ProbeDescriptorSchema = z.discriminatedUnion("ok", [
  z.object({ ok: z.literal(true), format: z.string(), architecture: z.string() }),
  z.object({ ok: z.literal(false), reason: z.string() }),
]);

/** The answer to `backend.load`: a session id, its capabilities and facts. */
export const LoadedSessionSchema = z.object({
  session: z.string().min(1),
  capabilities: Capabilities,
  info: z.object({
    path: z.string(),
    architecture: z.string(),
    contextSize: z.number().int().nonnegative(),
    trainContextSize: z.number().int().nonnegative(),
    threads: z.number().int().nonnegative(),
    hasChatTemplate: z.boolean(),
    embeddingSize: z.number().int().nonnegative(),
    loadMs: z.number().nonnegative(),
  }),
  features: z.object({
    tokenize: z.boolean(),
    rawEmbeddings: z.boolean(),
    loadOptions: z.boolean(),
    tools: z.boolean().optional(),
    renderChat: z.boolean().optional(),
  }).optional(),
});

/** api.ts's `ToolCallDescriptor`. */
export const ToolCallSchema = z.object({ id: z.string(), name: z.string().min(1), arguments: z.string() });

/** api.ts's `GenerateResultDescriptor` (`toolCalls` with the `tools` feature). */
export const GenerateResultSchema = z.object({
  text: z.string(),
  stopReason: StopReason,
  usage: Usage,
  toolCalls: z.array(ToolCallSchema).optional(),
});

/** `value` checked against `schema`, or a `PLUGIN_PROTOCOL` tagged with the plugin and hook. */
export function checkAnswer<T extends z.ZodTypeAny>(
  schema: T,
  value: unknown,
  plugin: string,
  hook: string,
): z.infer<T> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const error: LodeError = schemaError(parsed.error, value, {
    code: "PLUGIN_PROTOCOL",
    subject: `plugin ${plugin} (${hook}): its answer`,
    details: { plugin, hook },
  });
  throw error;
}
