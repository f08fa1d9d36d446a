// How long a master's loop stalls while a reload loads a hostile or huge
// config: USR1 (a status table in the log) every 20 ms from HUP until the
// reload has started or failed; each answer's latency, from the signal to
// the table's arrival. Worst cases of issue 18 item 2: a valid 4 MiB YAML
// (the slowest parse, ~1 s), 20,000 nested JSON objects, a 4 MiB TOML of
// comments. Usage: bun bench/reload-config-stall.ts [path/to/sup]
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Master, ROOT, machine, median } from "./lib.ts";

const bin = process.argv[2] ?? join(ROOT, "dist/sup");
const MiB = 1024 * 1024;
const SLEEPER = join(ROOT, "test/fixtures/sleeper.sh");

const CASES: { name: string; file: string; good: string; bad: () => string }[] = [
  {
    name: "valid 4 MiB YAML, a list in an unused table",
    file: "sup.yaml",
    good: `processes: 2\nready: "delay:0.1"\ncommand: [${JSON.stringify(SLEEPER)}]\n`,
    bad: () => `processes: 2\nready: "delay:0.1"\ncommand: [${JSON.stringify(SLEEPER)}]\nstaging:\n  touch-reload:\n${"    - a.py\n".repeat(Math.floor((4 * MiB - 300) / 11))}`,
  },
  {
    name: "20,000 nested JSON objects",
    file: "sup.json",
    good: JSON.stringify({ processes: 2, ready: "delay:0.1", command: [SLEEPER] }),
    bad: () => `${'{"a":'.repeat(20_000)}1${"}".repeat(20_000)}`,
  },
  {
    name: "4 MiB TOML of comments",
    file: "sup.toml",
    good: `processes = 2\nready = "delay:0.1"\ncommand = [${JSON.stringify(SLEEPER)}]\n`,
    bad: () => `processes = 2\nready = "delay:0.1"\ncommand = [${JSON.stringify(SLEEPER)}]\n${"# a comment line of the config\n".repeat(Math.floor((4 * MiB - 300) / 31))}`,
  },
];

console.log(`# ${machine()}; ${bin}`);
for (const c of CASES) {
  const dir = mkdtempSync(join(tmpdir(), "sup-bench-stall-"));
  const m = new Master(bin, ["-c", c.file], dir);
  try {
    writeFileSync(join(dir, c.file), c.good);
    await m.waitFor(/worker 2 pid \d+ gen 1 ready/, 15_000);
    writeFileSync(join(dir, `${c.file}.new`), c.bad());
    renameSync(join(dir, `${c.file}.new`), join(dir, c.file));
    const t0 = performance.now();
    process.kill(m.pid, "SIGHUP");
    const latencies: number[] = [];
    let from = m.lines.length;
    for (;;) {
      const sent = performance.now();
      process.kill(m.pid, "SIGUSR1");
      const answer = await m.waitLine(/master pid \d+ up/, from, 60_000).catch(() => undefined);
      if (!answer) {
        latencies.push(Infinity); // no answer within 60 s
        break;
      }
      const { index, line } = answer;
      from = index + 1;
      latencies.push(line.at - sent);
      if (/reload gen 2 started|reload failed/.test(m.log)) break;
      await Bun.sleep(20);
    }
    const ended = m.lines.find((l) => /reload gen 2 started|reload failed/.test(l.text));
    const load = ended ? `${(ended.at - t0).toFixed(0).padStart(5)} ms` : "> 60 s";
    console.log(`${c.name.padEnd(46)} load ${load}; USR1 answered in median ${median(latencies).toFixed(1)} ms, worst ${Math.max(...latencies).toFixed(1)} ms (${latencies.length} answers)`);
  } finally {
    await m.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
console.log(`# ${machine()}`);
