/**
 * OpenAI's cursor pages (`GET /v1/files`, `GET /v1/batches`): `{"object":"list","data",
 * "first_id","last_id","has_more"}`, the query's `limit` items after the one whose id is `after`, in
 * `order` (`asc` or `desc` by creation; ids sort by creation). A bad `limit` or `order` is `BAD_REQUEST`
 * naming it.
 *
 * @example
 * ```ts
 * import { listPage } from "./list_page.ts";
 * const items = [{ id: "a" }, { id: "b" }, { id: "c" }];
 * listPage(items, new URLSearchParams("limit=1&after=c"), { defaultLimit: 20, maxLimit: 100, defaultOrder: "desc" });
 * // { object: "list", data: [{ id: "b" }], first_id: "b", last_id: "b", has_more: true }
 * ```
 * @module
 */
import { badRequest } from "../openai/openai_translate.ts";

/** A page of a list. */
export interface ListPage<T> {
  object: "list";
  data: T[];
  first_id: string | null;
  last_id: string | null;
  has_more: boolean;
}

/** How a list pages. */
export interface PageRules {
  defaultLimit: number;
  maxLimit: number;
  defaultOrder: "asc" | "desc";
}

/** The page of `items` (oldest first) that `query` asks for (see the module doc). */
export function listPage<T extends { id: string }>(
  items: readonly T[],
  query: URLSearchParams,
  rules: PageRules,
): ListPage<T> {
  const rawLimit = query.get("limit");
  const limit = rawLimit === null ? rules.defaultLimit : Number(rawLimit);
  if (!Number.isInteger(limit) || limit < 1 || limit > rules.maxLimit) {
    throw badRequest("limit", `limit must be an integer from 1 to ${rules.maxLimit}, got ${rawLimit}`);
  }
  const order = query.get("order") ?? rules.defaultOrder;
  if (order !== "asc" && order !== "desc") {
    throw badRequest("order", `order must be asc or desc, got ${JSON.stringify(order)}`);
  }
  const sorted = order === "asc" ? [...items] : [...items].reverse();
  const after = query.get("after");
  let start = 0;
  if (after !== null && after !== "") {
    // Past the cursor by id, so a cursor whose item was deleted still pages on.
    start = sorted.findIndex((item) => order === "asc" ? item.id > after : item.id < after);
    if (start === -1) start = sorted.length;
  }
  const data = sorted.slice(start, start + limit);
  return {
    object: "list",
    data,
    first_id: data[0]?.id ?? null,
    last_id: data.at(-1)?.id ?? null,
    has_more: start + limit < sorted.length,
  };
}
