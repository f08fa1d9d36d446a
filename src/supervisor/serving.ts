// What /readyz answers (issue 22): whether this master should get traffic.
// Kubernetes takes a pod out of its Service's endpoints while it is not
// ready, so "ready" means: it serves now and will go on serving. With
// several programs, every long-running program (restart = always) must
// have at least one ready worker of its current generation: a web program
// with none cannot serve, and a queue worker with none means the pod is
// not whole. One-shot programs (a migration, restart never/on-failure) are
// not counted once they finished (their failure shows as the programs that
// wait on them having no worker), and a program stopped by `sup stop NAME`
// is left out: the operator meant it. Draining (TERM with
// --shutdown-delay) and stopping are never ready.
import type { Program } from "./program.ts";

export interface Serving {
  ready: boolean;
  /** Why not, in words (or what serves), for the body of /readyz. */
  why: string;
}

export function readiness(programs: Iterable<Program>, o: { stopping: boolean; draining: boolean }): Serving {
  if (o.stopping) return { ready: false, why: "stopping" };
  if (o.draining) return { ready: false, why: "draining before the stop (--shutdown-delay)" };
  const counted: string[] = [];
  for (const p of programs) {
    if (p.config.restart !== "always" || p.hold?.kind === "stopped") continue;
    const n = p.workers.list.filter((w) => w.state === "ready" && w.generation === p.generation).length;
    if (n === 0) return { ready: false, why: `program ${p.name} has no ready worker of generation ${p.generation}${p.hold ? ` (${p.hold.kind}: ${p.hold.why})` : ""}` };
    counted.push(`${p.name}: ${n} ready`);
  }
  return { ready: true, why: counted.join(", ") || "no long-running program" };
}
