// `sup top`: the workers live, refreshed every second (uwsgitop, `pm2
// monit`). It asks the master for its status over the control socket (no
// memory reading there) and reads each worker group's CPU time and RSS from
// /proc itself, so watching costs the master one status answer a second.
// On a terminal: the alternate screen, keys to sort, q or Ctrl-C to quit,
// and the terminal as it was afterwards, however top ends. Elsewhere (a
// pipe, a file): one plain table, with CPU % over half a second.
import type { Cli } from "./cli.ts";
import { ask, findMaster, pidfileOf } from "./client.ts";
import type { StatusReport } from "../control/status.ts";
import { groupUsage, type GroupUsage } from "../processes/usage.ts";
import { SORT_KEYS, keysLine, topLines, type SortKey } from "../output/top-view.ts";

const REFRESH_MS = 1000;

interface Sample {
  report: StatusReport;
  usage: Map<number, GroupUsage>;
  at: number;
}

export async function runTop(cli: Cli): Promise<number> {
  const { pid, sock } = await findMaster(await pidfileOf(cli));
  const sample = async (): Promise<Sample> => {
    const r = await ask(sock, { cmd: "status", memory: false }, 5000, pid);
    const report = r.status as StatusReport;
    return { report, usage: groupUsage(report.workers.map((w) => w.pid)), at: performance.now() };
  };
  const frame = (now: Sample, before: Sample | undefined, sort: SortKey) =>
    topLines({ report: now.report, usage: now.usage, before: before?.usage, seconds: before ? (now.at - before.at) / 1000 : 0, sort, now: Date.now() });

  if (!process.stdout.isTTY) {
    const first = await sample();
    await Bun.sleep(500);
    console.log(frame(await sample(), first, "id").join("\n"));
    return 0;
  }
  return await live(sample, frame, pid);
}

async function live(sample: () => Promise<Sample>, frame: (now: Sample, before: Sample | undefined, sort: SortKey) => string[], pid: number): Promise<number> {
  const out = process.stdout;
  const stdin = process.stdin;
  let sort: SortKey = "cpu";
  let quit = false;
  let wake = () => {};
  const restore = () => {
    if (stdin.isTTY) stdin.setRawMode(false);
    stdin.pause();
    out.write("\x1b[?25h\x1b[?1049l"); // cursor back, main screen back
  };
  const onKey = (d: Buffer) => {
    const k = d.toString();
    if (k === "q" || k === "Q" || k === "\x03" || k === "\x04") quit = true;
    else if (SORT_KEYS[k.toLowerCase()]) sort = SORT_KEYS[k.toLowerCase()]!;
    wake();
  };
  const stop = () => {
    quit = true;
    wake();
  };
  const signals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;
  const resize = () => wake();
  out.write("\x1b[?1049h\x1b[?25l"); // alternate screen, no cursor
  if (stdin.isTTY) stdin.setRawMode(true);
  stdin.on("data", onKey);
  stdin.resume();
  for (const s of signals) process.on(s, stop);
  process.on("SIGWINCH", resize);
  let before: Sample | undefined;
  let error: string | undefined;
  try {
    while (!quit) {
      let now: Sample;
      try {
        now = await sample();
      } catch (e) {
        error = `sup: the master (pid ${pid}) does not answer any more: ${(e as Error).message}`;
        break;
      }
      const width = out.columns || 80;
      const rows = out.rows || 24;
      const lines = frame(now, before, sort).slice(0, Math.max(1, rows - 2));
      out.write(`\x1b[H${lines.map((l) => l.slice(0, width) + "\x1b[K").join("\r\n")}\r\n\x1b[J\x1b[${rows};1H${keysLine(sort).slice(0, width)}\x1b[K`);
      if (!before || now.at - before.at >= REFRESH_MS * 0.9) before = now;
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, REFRESH_MS);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  } finally {
    restore();
    stdin.off("data", onKey);
    for (const s of signals) process.off(s, stop);
    process.off("SIGWINCH", resize);
  }
  if (error) {
    console.error(error);
    return 1;
  }
  return 0;
}
