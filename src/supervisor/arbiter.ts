// A master of one program: the Loop over a single Program, with the view of
// it that the one-program tests and tools use (its workers, its generation).
import type { Config } from "../config/schema.ts";
import { Loop } from "./loop.ts";
import type { Program } from "./program.ts";
import type { World } from "./world.ts";

export class Arbiter extends Loop {
  constructor(config: Config, world: World) {
    super(world, [config]);
  }

  get program(): Program {
    return [...this.programs.values()][0]!;
  }
  get workers() {
    return this.program.workers;
  }
  get generation(): number {
    return this.program.generation;
  }
  get config(): Config {
    return this.program.config;
  }
  get deps(): World {
    return this.world;
  }
}
