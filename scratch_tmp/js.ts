import { z } from "zod/v4";
import { checkJsonSchema } from "../src/inference/json_schema.ts";
const s = z.toJSONSchema(z.object({ precise: z.boolean() }));
console.log(JSON.stringify(s));
try { console.log(JSON.stringify(checkJsonSchema(s))); } catch (e) { console.log("ERR", (e as Error).message); }
try { console.log(JSON.stringify(checkJsonSchema({type:"object",properties:{}}))); } catch (e) { console.log("ERR", (e as Error).message); }
