// Entry point. Kept tiny on purpose: every verb's code is imported only when
// that verb runs, so the exec shim and `sup --version` start fast and the
// master does not carry modules it never uses.
import { reportFault } from "./core/fault.ts";

declare const SUP_VERSION: string;

const argv = process.argv.slice(2);

async function main(): Promise<number> {
  // The exec shim between the master and each worker (src/processes/shim.ts).
  if (argv[0] === "__exec") return (await import("./processes/shim.ts")).runShim(argv.slice(1));
  // The guard that outlives a SIGKILLed master, where the native one cannot run (src/processes/guard.ts).
  if (argv[0] === "__guard") return await (await import("./processes/guard-bun.ts")).runGuard(argv.slice(1));
  // A reload's config load, off the master's loop (src/verbs/config-child.ts).
  if (argv[0] === "__load-config") return await (await import("./verbs/config-child.ts")).runConfigChild(argv.slice(1));
  if (argv[0] === "--version" || argv[0] === "-V" || argv[0] === "version") {
    console.log(`sup ${typeof SUP_VERSION === "string" ? SUP_VERSION : (await import("../package.json")).version}`);
    return 0;
  }
  const { parseCli, UsageError } = await import("./verbs/cli.ts");
  const help = async (verb?: string) => (await import("./verbs/help.ts")).helpText(verb);
  const { ConfigError } = await import("./config/coerce.ts");
  try {
    const cli = parseCli(argv);
    if (cli.help) {
      process.stdout.write(await help(cli.verb === "run" || cli.verb === "version" ? undefined : cli.verb));
      return 0;
    }
    switch (cli.verb) {
      case "help": {
        const verb = cli.args[0];
        const { VERBS } = await import("./verbs/help.ts");
        if (verb !== undefined && !(verb in VERBS)) throw new UsageError(`sup help: no verb ${JSON.stringify(verb)}; the verbs are ${Object.keys(VERBS).join(", ")}`);
        process.stdout.write(await help(verb));
        return 0;
      }
      case "version":
        console.log(`sup ${typeof SUP_VERSION === "string" ? SUP_VERSION : "dev"}`);
        return 0;
      case "reload":
      case "stop":
      case "start":
      case "restart":
      case "status":
      case "reopen-logs":
        return await (await import("./verbs/client.ts")).runClientVerb(cli);
      case "top":
        return await (await import("./verbs/top.ts")).runTop(cli);
      case "migrate":
        return (await import("./verbs/migrate.ts")).runMigrate(cli);
      case "systemd-unit":
        return await (await import("./verbs/systemd-unit.ts")).runSystemdUnit(cli);
      case "config":
      case "check":
        return await (await import("./verbs/config.ts")).runConfigVerb(cli);
      case "run":
        try {
          return await (await import("./verbs/run.ts")).runMaster(cli);
        } catch (e) {
          // A bare `sup` runs the command of a config file found here; with
          // none, it shows how to use it.
          if (argv.length === 0 && e instanceof UsageError && e.message.startsWith("no command")) {
            process.stdout.write(await help());
            return 2;
          }
          throw e;
        }
    }
  } catch (e) {
    if (e instanceof UsageError || e instanceof ConfigError) {
      console.error(`sup: ${e.message}`);
      return 2;
    }
    throw e;
  }
}

/**
 * An error nobody expected is a bug in sup (exit 70, EX_SOFTWARE). While a
 * master runs, its loop takes it, stops the workers and exits 70 itself;
 * anywhere else: one line, never a stack (of a minified bundle it says
 * nothing to a user).
 */
function fatal(e: unknown): void {
  if (reportFault(e)) return;
  const what = e instanceof Error ? `${e.name === "Error" ? "" : `${e.name}: `}${e.message}` : String(e);
  console.error(`sup: internal error: ${what.split("\n")[0]}; this is a bug in sup, please report it with the command that caused it`);
  process.exit(70);
}
process.on("uncaughtException", fatal);
process.on("unhandledRejection", fatal);

main().then((code) => process.exit(code), fatal);
