// The Node and Bun recipes of the docs against the real programs (recipes.ts, recipes-suite.ts).
import { recipeTests } from "./recipes-suite.ts";

recipeTests("test/e2e/recipes-js.test.ts");
