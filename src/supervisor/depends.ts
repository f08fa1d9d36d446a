// Start order (depends-on): a program that waits for others starts once each
// has done what it asks: `started` (spawned a worker), `ready` (every worker
// was ready once) or `completed` (a one-shot task whose every worker exited
// 0, like a database migration). A dependency that failed for good (a
// one-shot that exited non-zero, or a program that will never start) blocks
// the programs that need it, and the log says why. Once started, a program
// is not stopped when a dependency later restarts (systemd's Wants=, not
// BindsTo=).
import type { Program } from "./program.ts";

export function gate(programs: ReadonlyMap<string, Program>) {
  for (const p of programs.values()) p.noteReady();
  for (const p of programs.values()) {
    if (p.hold?.kind !== "waiting") continue;
    const unmet: string[] = [];
    let failed: string | undefined;
    for (const [name, cond] of Object.entries(p.config["depends-on"])) {
      const d = programs.get(name);
      if (!d) continue; // removed from the config: nothing left to wait for
      if (d.hold?.kind === "blocked") failed ??= `${name} will not start (${d.hold.why})`;
      const done = d.finished;
      if (cond !== "started" && done && !done.ok) failed ??= `${name} failed (${[...d.slots.values()].map((s) => s.done?.exit).filter(Boolean).join(", ")})`;
      const met = cond === "started" ? d.everSpawned : cond === "ready" ? d.wasReady : done?.ok === true;
      if (!met) unmet.push(`${name} to be ${cond}`);
    }
    p.gate(unmet, failed);
  }
}
