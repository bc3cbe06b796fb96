/**
 * The one tfjs instance every falign package shares, and the function that picks its backend.
 *
 * Backend order when nothing is named (argument or `FALIGN_BACKEND`): `tensorflow` (optional
 * native bindings), `webgpu` (optional `webgpu` npm package with a real adapter), `wasm`, `cpu`.
 * The wasm backend gets its known defects patched here (see kernels/wasm-fixes.ts), so no caller
 * has to know about them.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { BackendName } from './types.js';
import { installWasmFixes } from './kernels/wasm-fixes.js';

export { tf };

// tfjs-core's Node build registers no gradients (only the @tensorflow/tfjs union package does);
// the vendored bundle registers all of them into tfjs's process-global registry. The path is the
// same from src/ (tests) and dist/ (compiled).
if (tf.getGradient('Add') === undefined) {
  const vendored = createRequire(import.meta.url)('../vendor/tfjs-gradients.cjs') as { TFJS_CORE_VERSION: string };
  if (vendored.TFJS_CORE_VERSION !== tf.version_core) {
    throw new Error(
      `@falign/core: vendor/tfjs-gradients.cjs was built from tfjs-core ${vendored.TFJS_CORE_VERSION} but ${tf.version_core} is installed; run node packages/core/scripts/vendor-tfjs-gradients.mjs`,
    );
  }
}

const KNOWN: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

let initialised: string | null = null;
let logged = false;
let pending: Promise<string> | null = null;

/** Name of the active tfjs backend, or null before {@link initBackend} ran. */
export function backendName(): string | null {
  return initialised;
}

/** Dynamic import that yields null (instead of throwing) when an optional package is absent. */
async function optionalImport(spec: string): Promise<unknown | null> {
  try {
    return await import(/* @vite-ignore */ spec);
  } catch {
    return null;
  }
}

async function tryTensorflow(): Promise<string | null> {
  const mod =
    (await optionalImport('@tensorflow/tfjs-node-gpu')) ?? (await optionalImport('@tensorflow/tfjs-node'));
  if (mod === null) return null;
  // tfjs-node registers 'tensorflow' against its own bundled tfjs-core; it is usable only when that
  // core is the same module instance as ours (npm dedupes it when versions match).
  if (tf.findBackendFactory('tensorflow') == null) return null;
  return 'tensorflow';
}

const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib64', '/usr/lib', '/usr/local/lib'];
const ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];

/** Whether the Vulkan loader Dawn needs is installed (checked so auto mode stays quiet without it). */
function hasVulkanLoader(): boolean {
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LIB_DIRS];
  return dirs.some((d) => existsSync(join(d, 'libvulkan.so.1')));
}

/** Points the Vulkan loader at the NVIDIA ICD when it is installed but not configured. */
function configureVulkanIcd(): void {
  if (process.env.VK_DRIVER_FILES || process.env.VK_ICD_FILENAMES) return;
  for (const d of ICD_DIRS) {
    const f = join(d, 'nvidia_icd.json');
    if (existsSync(f)) {
      process.env.VK_DRIVER_FILES = f;
      return;
    }
  }
}

async function tryWebgpu(explicit: boolean): Promise<string | null> {
  if (!explicit && !hasVulkanLoader()) return null;
  configureVulkanIcd();
  const gpuMod = (await optionalImport('webgpu')) as { create?: (flags: string[]) => unknown } | null;
  if (gpuMod === null || typeof gpuMod.create !== 'function') return null;
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  g.navigator ??= {};
  if (g.navigator.gpu === undefined) {
    try {
      g.navigator.gpu = gpuMod.create([]);
    } catch {
      return null;
    }
  }
  const gpu = g.navigator.gpu as { requestAdapter(): Promise<unknown | null> };
  type AdapterLike = { isFallbackAdapter?: boolean; info?: { adapterType?: string } };
  let found: AdapterLike | null = null;
  try {
    found = (await gpu.requestAdapter()) as AdapterLike | null;
  } catch {
    found = null;
  }
  if (found === null || found === undefined) return null;
  const adapter: AdapterLike = found;
  // A software (CPU) adapter would be far slower than wasm: only a real GPU counts in auto mode.
  if (!explicit && (adapter.isFallbackAdapter === true || adapter.info?.adapterType === 'cpu')) return null;
  const be = await optionalImport('@tensorflow/tfjs-backend-webgpu');
  if (be === null || tf.findBackendFactory('webgpu') == null) return null;
  return 'webgpu';
}

/** Makes `name` available for tf.setBackend; returns null when its optional packages are missing. */
async function prepare(name: BackendName, explicit: boolean): Promise<string | null> {
  switch (name) {
    case 'tensorflow':
      return tryTensorflow();
    case 'webgpu':
      return tryWebgpu(explicit);
    case 'wasm':
    case 'cpu':
      return name;
  }
}

/** The cpu backend prints a "install tfjs-node" banner on first use; falign logs its own choice. */
function silenceCpuBanner(): void {
  try {
    const cpu = tf.findBackend('cpu') as unknown as { firstUse?: boolean } | null;
    if (cpu && 'firstUse' in cpu) cpu.firstUse = false;
  } catch {
    // cosmetic only
  }
}

async function activate(name: BackendName, explicit: boolean): Promise<boolean> {
  const ready = await prepare(name, explicit);
  if (ready === null) return false;
  let ok = false;
  try {
    ok = await tf.setBackend(ready);
    await tf.ready();
  } catch {
    ok = false;
  }
  if (ok && tf.getBackend() === 'wasm') installWasmFixes();
  if (ok) silenceCpuBanner();
  return ok && tf.getBackend() === ready;
}

function describe(name: string): string {
  if (name === 'wasm') {
    let simd = 'unknown';
    try {
      simd = tf.env().get('WASM_HAS_SIMD_SUPPORT') ? 'on' : 'off';
    } catch {
      // the flag is evaluated asynchronously; before that it cannot be read synchronously
    }
    return `wasm (simd ${simd})`;
  }
  return name;
}

/**
 * Initialises the tfjs backend and returns its name. With `name` (or env `FALIGN_BACKEND`) that
 * backend must start or this throws; without, the first of tensorflow → webgpu → wasm → cpu that
 * starts is used. Calling again with the same (or no) name is a no-op; naming a different backend
 * switches to it. The choice is logged once per process on stderr.
 */
export async function initBackend(name?: BackendName): Promise<string> {
  const envName = process.env.FALIGN_BACKEND?.trim();
  const wanted = name ?? (envName ? (envName as BackendName) : undefined);
  if (wanted !== undefined && !KNOWN.includes(wanted)) {
    throw new Error(`unknown tfjs backend '${wanted}' (FALIGN_BACKEND or initBackend argument); expected one of ${KNOWN.join(', ')}`);
  }
  if (initialised !== null && (wanted === undefined || wanted === initialised) && tf.getBackend() === initialised) {
    return initialised;
  }
  while (pending !== null) await pending.catch(() => undefined);
  if (initialised !== null && (wanted === undefined || wanted === initialised) && tf.getBackend() === initialised) {
    return initialised;
  }
  pending = (async () => {
    let chosen: string | null = null;
    if (wanted !== undefined) {
      if (!(await activate(wanted, true))) {
        const hint =
          wanted === 'tensorflow'
            ? ' (needs @tensorflow/tfjs-node or -node-gpu installed)'
            : wanted === 'webgpu'
              ? ' (needs the `webgpu` npm package, libvulkan1 and a GPU adapter; set VK_DRIVER_FILES to the ICD json if the loader cannot find it)'
              : '';
        throw new Error(`tfjs backend '${wanted}' failed to initialise${hint}`);
      }
      chosen = wanted;
    } else {
      for (const cand of KNOWN) {
        if (await activate(cand, false)) {
          chosen = cand;
          break;
        }
      }
      if (chosen === null) throw new Error('no tfjs backend could be initialised (tried tensorflow, webgpu, wasm, cpu)');
    }
    initialised = chosen;
    if (!logged) {
      logged = true;
      process.stderr.write(`[falign] tfjs backend: ${describe(chosen)}\n`);
    }
    return chosen;
  })();
  try {
    return await pending;
  } finally {
    pending = null;
  }
}
