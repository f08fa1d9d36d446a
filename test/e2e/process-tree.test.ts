// Issue 10, items 6 and 7: no process escapes a worker's tree, and zombies
// are reaped, as a subreaper and as PID 1 of a container. Real processes.
import { expect, test } from "bun:test";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { Master, SUP, alive, fixture, runSup, tempDir, track, useCleanup, waitUntil } from "./harness.ts";

useCleanup();

/** The pids escaper.sh reports, once all three lines are out. */
async function escapees(m: Master) {
  const [, group] = await m.waitFor(/group child (\d+)/);
  const [, setsid] = await m.waitFor(/setsid child (\d+)/);
  const [, daemon] = await m.waitFor(/daemon (\d+)/);
  const pids = [group, setsid, daemon].map(Number);
  for (const p of pids) track(p);
  return pids;
}

test("a graceful stop also stops what a worker setsid'ed or double-forked, and the log names it", async () => {
  const m = new Master(["--ready", "delay:0.1", "--worker-reload-mercy", "2", "--", fixture("escaper.sh")]);
  const [group, setsid, daemon] = await escapees(m);
  await m.waitFor(/worker 1 pid \d+ gen 1 ready/);
  m.signal("SIGTERM");
  expect(await m.exitCode()).toBe(0);
  for (const p of [group!, setsid!, daemon!]) expect(alive(p)).toBe(false);
  expect(m.out).toMatch(/worker 1 left 2 processes outside its group: pid \d+ sleep, pid \d+ sleep; stopping them/);
});

test("a reload stops what the old worker left outside its group", async () => {
  const m = new Master(["--ready", "delay:0.1", "--reload-grace", "0", "--worker-reload-mercy", "2", "--", fixture("escaper.sh")]);
  const old = await escapees(m);
  m.signal("SIGHUP");
  await m.waitFor(/reload gen 2 done/);
  await waitUntil(() => old.every((p) => !alive(p)), 5000, () => `old tree gone: ${old.filter(alive)}`);
});

test("SIGKILL of the master: nothing of a worker's tree survives 2 s (group child, setsid child, daemon)", async () => {
  const m = new Master(["-p", "2", "--ready", "delay:0.1", "--", fixture("escaper.sh")]);
  const pids = await escapees(m);
  await waitUntil(() => m.count(/daemon \d+/g) >= 2, 10_000, "both workers' daemons");
  const all = [...m.out.matchAll(/(?:group child|setsid child|daemon) (\d+)/g)].map((x) => Number(x[1]));
  for (const p of all) track(p);
  const workers = m.livePids();
  expect(all.length).toBe(6);
  await Bun.sleep(300); // the guard has heard of every worker
  process.kill(m.pid, "SIGKILL");
  const t0 = Date.now();
  await waitUntil(() => [...all, ...workers].every((p) => !alive(p)), 2000, () => `gone within 2 s; alive: ${[...all, ...workers].filter(alive)}`);
  expect(Date.now() - t0).toBeLessThan(2000);
  expect(pids.length).toBe(3);
  // Nor does its runtime dir: the guard removes what a clean exit would have.
  const dirs = [process.env.XDG_RUNTIME_DIR, process.env.TMPDIR, "/tmp"].filter(Boolean).map((d) => join(d!, `sup-${m.pid}`));
  await waitUntil(() => dirs.every((d) => !existsSync(d)), 2000, () => `no runtime dir left: ${dirs.filter((d) => existsSync(d))}`);
});

/** Zombies whose parent is `ppid`. */
function zombiesOf(ppid: number): number {
  let n = 0;
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = readFileSync(`/proc/${name}/stat`, "latin1");
      const [state, parent] = stat.slice(stat.lastIndexOf(")") + 2).split(" ", 2);
      if (state === "Z" && Number(parent) === ppid) n++;
    } catch {}
  }
  return n;
}

/** The pid (as seen from here) of `unshare`'s child, sup as PID 1 of its namespace. */
function childOf(ppid: number): number | undefined {
  const text = readFileSync(`/proc/${ppid}/task/${ppid}/children`, "latin1").trim();
  return text ? Number(text.split(" ")[0]) : undefined;
}

test("as PID 1 of a pid namespace (a container without tini): orphans are reaped, HUP works, TERM exits 0", async () => {
  const pidfile = join(tempDir(), "sup.pid");
  const p = Bun.spawn(["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", SUP, "--ready", "delay:0.2", "--reload-grace", "0", "--pidfile", pidfile, "--", fixture("orphans.sh")], { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, ORPHANS: "50" } });
  track(p.pid);
  let out = "";
  const pump = async (s: ReadableStream<Uint8Array>) => {
    for await (const c of s) out += new TextDecoder().decode(c);
  };
  void pump(p.stdout);
  void pump(p.stderr);
  const sup = await waitUntil(() => childOf(p.pid), 5000, "sup inside the namespace");
  track(sup); // PID 1 of its namespace: killing it ends the namespace
  await waitUntil(() => out.includes("orphans made") && /gen 1 ready/.test(out), 15_000, () => `the first worker:\n${out}`);
  expect(out).toContain("master started pid 1,");
  // From outside its namespace the pidfile's "1" is this machine's init: the client says where the master is, and signals nothing.
  const st = await runSup(["status", "--pidfile", pidfile]);
  expect({ code: st.code, err: st.stderr }).toEqual({ code: 2, err: `sup: pidfile ${pidfile} names pid 1 of another pid namespace: the master there is pid ${sup} here (its control socket is ${process.env.TMPDIR ?? "/tmp"}/sup-1/control.sock); run sup inside that namespace (nsenter -t ${sup} -p -m sup …), or signal pid ${sup}; nothing was signalled\n` });
  await Bun.sleep(2000);
  expect(zombiesOf(sup)).toBe(0);
  process.kill(sup, "SIGHUP");
  await waitUntil(() => /reload gen 2 done/.test(out) && out.split("orphans made").length === 3, 15_000, () => `the reload:\n${out}`);
  await Bun.sleep(2000);
  expect(zombiesOf(sup)).toBe(0);
  process.kill(sup, "SIGTERM");
  const code = await Promise.race([p.exited, Bun.sleep(10_000).then(() => -1)]);
  expect(code).toBe(0);
  expect(out).toContain("master stopped (signal TERM)");
}, 60_000);
