// docs/kubernetes.md's Deployment, read as Kubernetes would (YAML, through
// confbox's parser, which c12 already brings): every field the page relies
// on is there and agrees with the others (probe paths and ports, the grace
// period against --shutdown-delay plus the mercy, sup as the entrypoint),
// and the container's args are a command line sup accepts.
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseYAML } from "confbox";
import { ROOT, runSup } from "./harness.ts";

interface Probe { httpGet: { path: string; port: string | number }; periodSeconds: number; timeoutSeconds: number; failureThreshold: number }
interface Container { command: string[]; args: string[]; ports: { name: string; containerPort: number }[]; readinessProbe: Probe; livenessProbe: Probe }

const doc = readFileSync(join(ROOT, "docs/kubernetes.md"), "utf8");
const yaml = /```yaml\n([\s\S]*?)```/.exec(doc)![1]!;
const d = parseYAML(yaml) as { kind: string; spec: { template: { metadata: { annotations: Record<string, string> }; spec: { terminationGracePeriodSeconds: number; containers: Container[] } } } };
const pod = d.spec.template.spec;
const c = pod.containers[0]!;
const arg = (name: string) => {
  const i = c.args.indexOf(name);
  return i >= 0 && i < c.args.indexOf("--") ? c.args[i + 1] : undefined;
};
const portOf = (p: string | number) => (typeof p === "number" ? p : c.ports.find((x) => x.name === p)?.containerPort);

test("the Deployment runs sup as PID 1, with no init in front of it", () => {
  expect(d.kind).toBe("Deployment");
  expect(c.command).toEqual(["sup"]);
  expect(JSON.stringify(c)).not.toMatch(/tini|dumb-init/);
});

test("the probes ask sup's stats server: /readyz for readiness, /healthz for liveness, on the --stats port", () => {
  const stats = Number(/:(\d+)$/.exec(arg("--stats")!)![1]);
  expect(c.readinessProbe.httpGet.path).toBe("/readyz");
  expect(c.livenessProbe.httpGet.path).toBe("/healthz");
  expect(portOf(c.readinessProbe.httpGet.port)).toBe(stats);
  expect(portOf(c.livenessProbe.httpGet.port)).toBe(stats);
  expect(d.spec.template.metadata.annotations["prometheus.io/port"]).toBe(String(stats));
  // The app's port is the one sup listens on for the workers.
  expect(portOf("http")).toBe(Number(/:(\d+)$/.exec(arg("--listen")!)![1]));
  // Out of the Service within ~2 s of a 503; liveness slow to condemn.
  expect(c.readinessProbe.periodSeconds * c.readinessProbe.failureThreshold).toBeLessThanOrEqual(2);
  expect(c.livenessProbe.periodSeconds * c.livenessProbe.failureThreshold).toBeGreaterThanOrEqual(30);
});

test("terminationGracePeriodSeconds covers --shutdown-delay plus the mercy, with a margin", () => {
  const delay = Number(arg("--shutdown-delay"));
  const mercy = Number(arg("--worker-reload-mercy") ?? 30);
  expect(delay).toBeGreaterThan(0);
  expect(pod.terminationGracePeriodSeconds).toBeGreaterThanOrEqual(delay + mercy + 5);
  expect(doc).toContain(`${delay} + ${mercy} + ${pod.terminationGracePeriodSeconds - delay - mercy} = ${pod.terminationGracePeriodSeconds}`);
});

test("the container's args are a command line sup accepts (sup check)", async () => {
  const r = await runSup(["check", ...c.args]);
  expect({ code: r.code, err: r.stderr }).toEqual({ code: 0, err: "" });
});
