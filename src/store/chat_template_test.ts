import { deepStrictEqual as assertEquals, ok as assert, rejects as assertRejects } from "node:assert/strict";
import { withTempDir } from "../../tests/support/temp_dir.ts";
import { isLodeError } from "../errors.ts";
import { readChatTemplate } from "./chat_template.ts";
import { StoreLayout } from "./layout.ts";
import type { Manifest, ManifestFile } from "./manifest.ts";

const MODEL_HEX = "a".repeat(64);
const TEMPLATE_HEX = "b".repeat(64);

function manifest(files: ManifestFile[]): Manifest {
  return {
    schema_version: 1,
    name: "chatml",
    format: "gguf",
    blob: `sha256:${MODEL_HEX}`,
    size_bytes: 10,
    source: {
      registry: "oci",
      repo: "reg.test/m/chatml",
      revision: "sha256:" + "c".repeat(64),
      filename: "model.gguf",
    },
    produced_by: "lode test",
    produced_at: "2026-01-01T00:00:00Z",
    files,
  };
}

const model: ManifestFile = {
  role: "model",
  filename: "model.gguf",
  blob: `sha256:${MODEL_HEX}`,
  size_bytes: 10,
};
const template = (size: number): ManifestFile => ({
  role: "chat_template",
  filename: "template.jinja",
  blob: `sha256:${TEMPLATE_HEX}`,
  size_bytes: size,
});

async function writeBlob(layout: StoreLayout, hex: string, bytes: Uint8Array): Promise<void> {
  await Deno.mkdir(layout.blobDir(hex), { recursive: true });
  await Deno.writeFile(layout.blobPath(hex), bytes);
}

Deno.test("readChatTemplate reads a manifest's chat_template file, and nothing for a model without one", async () => {
  await withTempDir(async (dir) => {
    const layout = new StoreLayout(dir);
    const text = "{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}";
    await writeBlob(layout, TEMPLATE_HEX, new TextEncoder().encode(text));
    assertEquals(await readChatTemplate(layout, manifest([model, template(text.length)])), {
      text,
      name: 'template.jinja of model "chatml"',
      path: layout.blobPath(TEMPLATE_HEX),
    });
    assertEquals(await readChatTemplate(layout, manifest([model])), undefined);
    assertEquals(await readChatTemplate(layout, { ...manifest([]), files: undefined }), undefined);
  });
});

Deno.test("readChatTemplate: a missing blob is BLOB_MISSING, bytes that are not UTF-8 or too many MODEL_LOAD_FAILED", async () => {
  await withTempDir(async (dir) => {
    const layout = new StoreLayout(dir);
    await assertRejects(readChatTemplate(layout, manifest([model, template(4)])), (e: unknown) => {
      assert(isLodeError(e, "BLOB_MISSING"), String(e));
      return true;
    });
    await writeBlob(layout, TEMPLATE_HEX, new Uint8Array([0xff, 0xfe, 0x00, 0x41]));
    await assertRejects(readChatTemplate(layout, manifest([model, template(4)])), (e: unknown) => {
      assert(isLodeError(e, "MODEL_LOAD_FAILED"), String(e));
      assert(e.message.includes('template.jinja of model "chatml" is not UTF-8'), e.message);
      return true;
    });
    await assertRejects(
      readChatTemplate(layout, manifest([model, template(2 * 1024 * 1024)])),
      (e: unknown) => {
        assert(isLodeError(e, "MODEL_LOAD_FAILED"), String(e));
        return true;
      },
    );
  });
});
