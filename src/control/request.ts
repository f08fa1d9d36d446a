// The control protocol: one JSON request per connection, one line, answered
// by one JSON line. Anything else is refused with a reason before it can
// reach the arbiter loop.

export interface Request {
  cmd: "ping" | "status" | "reload" | "stop" | "start" | "restart" | "reopen-logs";
  rolling?: boolean;
  wait?: boolean;
  now?: boolean;
  /** status: false skips reading each worker group's memory from /proc (sup top reads its own). */
  memory?: boolean;
  /** The program a reload, stop, start or restart is for (reload and stop: every one / the master when absent). */
  program?: string;
}

/** Longest request line the master reads; real ones are under 60 bytes. */
export const MAX_REQUEST = 4096;

/** The switches each command takes (all booleans). */
const SWITCHES: Record<Request["cmd"], readonly string[]> = {
  ping: [],
  status: ["memory"],
  reload: ["rolling", "wait", "program"],
  stop: ["now", "program"],
  start: ["program"],
  restart: ["program"],
  "reopen-logs": [],
};
/** Commands that cannot do without a program name. */
const NEEDS_PROGRAM = new Set(["start", "restart"]);
/** A program, a group, or supervisorctl's GROUP:* and GROUP:NAME. */
const PROGRAM_NAME = /^[\w.-]{1,100}(:([\w.-]{1,100}|\*))?$/;

/** A request from one line of text, or the reason it is not one. */
export function parseRequest(line: string): { req: Request } | { error: string } {
  if (line.length > MAX_REQUEST) return { error: `request longer than ${MAX_REQUEST} bytes` };
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { error: "request is not JSON" };
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) return { error: "request is not a JSON object" };
  const obj = value as Record<string, unknown>;
  const cmd = obj.cmd;
  if (typeof cmd !== "string" || !Object.hasOwn(SWITCHES, cmd)) {
    return { error: `unknown command ${JSON.stringify(cmd ?? null)?.slice(0, 40)} (expected one of ${Object.keys(SWITCHES).join(", ")})` };
  }
  const allowed = SWITCHES[cmd as Request["cmd"]];
  const req: Request = { cmd: cmd as Request["cmd"] };
  for (const [key, v] of Object.entries(obj)) {
    if (key === "cmd") continue;
    if (!allowed.includes(key)) return { error: `${cmd} takes no ${JSON.stringify(key.slice(0, 40))}${allowed.length ? ` (only ${allowed.join(", ")})` : ""}` };
    if (key === "program") {
      if (typeof v !== "string" || !PROGRAM_NAME.test(v)) return { error: `${cmd}: program must be a program or group name` };
      req.program = v;
      continue;
    }
    if (typeof v !== "boolean") return { error: `${cmd}: ${key} must be true or false` };
    (req as unknown as Record<string, boolean>)[key] = v;
  }
  if (NEEDS_PROGRAM.has(req.cmd) && req.program === undefined) return { error: `${cmd} needs a program` };
  return { req };
}
