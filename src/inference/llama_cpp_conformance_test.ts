import { fileURLToPath as fromFileUrl } from "node:url";
import { backendConformance } from "./backend_conformance.ts";
import { createLlamaCppBackend } from "./llama_cpp_backend.ts";

const MODEL = fromFileUrl(new URL("../../tests/fixtures/stories260K.gguf", import.meta.url));

backendConformance("llamacpp", () => createLlamaCppBackend(), { model: MODEL });
