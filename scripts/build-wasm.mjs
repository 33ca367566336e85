// Compiles the media engine's WebAssembly kernels (src/**/*.wat → .wasm beside them) with wabt.
// The .wasm files are committed (a running Telegraph needs no compiler); test/media/dtmf-kernel.test.ts
// checks that each one is what its .wat compiles to.
//   npm run build:wasm
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import initWabt from 'wabt';

export const KERNELS = ['src/media/dtmf/dtmfKernel.wat', 'src/media/vad/vadKernel.wat'];
const root = fileURLToPath(new URL('..', import.meta.url));

export async function compileWat(path) {
  const wabt = await initWabt();
  const mod = wabt.parseWat(path, readFileSync(root + path, 'utf8'), { simd: true });
  try {
    mod.validate();
    return Buffer.from(mod.toBinary({ write_debug_names: false }).buffer);
  } finally {
    mod.destroy();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const k of KERNELS) {
    const bin = await compileWat(k);
    writeFileSync(root + k.replace(/\.wat$/, '.wasm'), bin);
    console.log(`${k} → ${bin.length} bytes`);
  }
}
