import assert from "node:assert/strict";
import { isLodeError } from "../../errors.ts";
import { checkListenHost, hostOfHeader, isLoopbackHost, parseHttpAddress } from "./http_address.ts";

Deno.test("parseHttpAddress: loopback forms, bare ports, IPv6 in brackets", () => {
  assert.deepEqual(parseHttpAddress("127.0.0.1:8080"), { hostname: "127.0.0.1", port: 8080 });
  assert.deepEqual(parseHttpAddress("localhost:0"), { hostname: "localhost", port: 0 });
  assert.deepEqual(parseHttpAddress("[::1]:11435"), { hostname: "::1", port: 11435 });
  assert.deepEqual(parseHttpAddress("8080"), { hostname: "127.0.0.1", port: 8080 });
  assert.deepEqual(parseHttpAddress(":8080"), { hostname: "127.0.0.1", port: 8080 });
});

Deno.test("parseHttpAddress: malformed values and ports are USAGE errors", () => {
  for (const bad of ["", "127.0.0.1", "127.0.0.1:", "127.0.0.1:http", "127.0.0.1:70000", "::1:80", "a:b:c"]) {
    assert.throws(() => parseHttpAddress(bad), (e) => isLodeError(e, "USAGE"), bad);
  }
});

Deno.test("a non-loopback host is refused unless allowRemote says so", () => {
  for (const host of ["0.0.0.0:8080", "192.168.1.5:80", "[::]:80", "example.com:80"]) {
    assert.throws(
      () => parseHttpAddress(host),
      (e) => isLodeError(e, "USAGE") && /--http-allow-remote/.test(e.hint),
      host,
    );
  }
  assert.deepEqual(parseHttpAddress("0.0.0.0:8080", { allowRemote: true }), {
    hostname: "0.0.0.0",
    port: 8080,
  });
  checkListenHost("127.9.9.9");
});

Deno.test("isLoopbackHost and hostOfHeader", () => {
  for (const h of ["localhost", "LOCALHOST.", "api.localhost", "127.0.0.1", "127.255.0.3", "::1", "[::1]"]) {
    assert.equal(isLoopbackHost(h), true, h);
  }
  for (const h of ["0.0.0.0", "127.0.0.256", "128.0.0.1", "localhost.evil.com", "::", "evil.com"]) {
    assert.equal(isLoopbackHost(h), false, h);
  }
  assert.equal(hostOfHeader("127.0.0.1:8080"), "127.0.0.1");
  assert.equal(hostOfHeader("[::1]:8080"), "::1");
  assert.equal(hostOfHeader("[::1]"), "::1");
  assert.equal(hostOfHeader("localhost"), "localhost");
});
