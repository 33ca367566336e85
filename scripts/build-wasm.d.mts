// Types of build-wasm.mjs, for the tests that import it.
/** The kernels' .wat sources, from the repository's root; each .wasm is committed beside its .wat. */
export const KERNELS: string[];
/** Compiles a kernel's .wat (a path from the repository's root) as npm run build:wasm does. */
export function compileWat(path: string): Promise<Buffer>;
