import { fileURLToPath as fromFileUrl } from "node:url";
import { writeChatModel } from "../../tests/support/chat_model.ts";
import { backendConformance } from "./backend_conformance.ts";
import { createLlamaCppBackend } from "./llama_cpp_backend.ts";

const MODEL = fromFileUrl(new URL("../../tests/fixtures/stories260K.gguf", import.meta.url));
// A ChatML chat model for the tool steps (node-llama-cpp's generic call syntax), removed when the module unloads.
const dir = await Deno.makeTempDir({ prefix: "lode-conformance-chat-" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const CHAT = await writeChatModel(`${dir}/chat.gguf`);

backendConformance("llamacpp", () => createLlamaCppBackend(), { model: MODEL, toolsModel: CHAT });
