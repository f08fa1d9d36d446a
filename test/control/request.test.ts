import { describe, expect, test } from "bun:test";
import { MAX_REQUEST, parseRequest } from "../../src/control/request.ts";

describe("parseRequest", () => {
  test("takes each command with the switches it has", () => {
    expect(parseRequest('{"cmd":"ping"}')).toEqual({ req: { cmd: "ping" } });
    expect(parseRequest('{"cmd":"status"}')).toEqual({ req: { cmd: "status" } });
    expect(parseRequest('{"cmd":"reload","rolling":true,"wait":false}')).toEqual({ req: { cmd: "reload", rolling: true, wait: false } });
    expect(parseRequest('{"cmd":"stop","now":true}')).toEqual({ req: { cmd: "stop", now: true } });
  });

  for (const [line, error] of [
    ["hello", "request is not JSON"],
    ["", "request is not JSON"],
    ["[1,2]", "request is not a JSON object"],
    ["null", "request is not a JSON object"],
    ['"stop"', "request is not a JSON object"],
    ["{}", "unknown command null"],
    ['{"cmd":"shutdown"}', 'unknown command "shutdown" (expected one of ping, status, reload, stop, start, restart, reopen-logs)'],
    ['{"cmd":"toString"}', 'unknown command "toString"'],
    ['{"cmd":"__proto__"}', 'unknown command "__proto__"'],
    ['{"cmd":7}', "unknown command 7"],
    ['{"cmd":"stop","now":"yes"}', "stop: now must be true or false"],
    ['{"cmd":"reload","now":true}', 'reload takes no "now" (only rolling, wait, program)'],
    ['{"cmd":"ping","wait":true}', 'ping takes no "wait"'],
  ] as const) {
    test(`refuses ${JSON.stringify(line)}: ${error}`, () => {
      const r = parseRequest(line);
      expect("error" in r && r.error).toContain(error);
    });
  }

  test("refuses a line longer than MAX_REQUEST before parsing it", () => {
    const r = parseRequest(`{"cmd":"ping","x":"${"a".repeat(MAX_REQUEST)}"}`);
    expect(r).toEqual({ error: `request longer than ${MAX_REQUEST} bytes` });
  });
});

test("program commands: start and restart need a program; a program is a name", () => {
  expect(parseRequest('{"cmd":"restart","program":"web"}')).toEqual({ req: { cmd: "restart", program: "web" } });
  expect(parseRequest('{"cmd":"start"}')).toEqual({ error: "start needs a program" });
  expect(parseRequest('{"cmd":"stop","program":"../x y"}')).toEqual({ error: "stop: program must be a program or group name" });
  expect(parseRequest('{"cmd":"stop","program":"web:*"}')).toEqual({ req: { cmd: "stop", program: "web:*" } });
});
