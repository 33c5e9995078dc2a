/**
 * Loads the functions entry point in a fresh process, as the Functions runtime (and the deploy
 * discovery) does, and prints which modules that pulled in. Usage: tsx <this>.
 */
import "../../src/index";

const loaded = Object.keys(require.cache).map((path) => path.replace(/\\/g, "/"));
process.stdout.write(JSON.stringify(loaded));
process.exit(0);
