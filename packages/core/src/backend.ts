/**
 * The one tfjs instance every falign package shares, and the function that picks its backend.
 *
 * Backend order when nothing is named (argument or `FALIGN_BACKEND`): `tensorflow` (optional
 * native bindings), `webgpu` (optional `webgpu` npm package with a hardware adapter: software ones
 * such as Mesa lavapipe are skipped), `wasm`, `cpu`. Each must also run a first tiny op; a backend
 * that is present but fails is named, with the reason, in the one line that logs the choice.
 * The wasm backend gets its known defects patched here (see kernels/wasm-fixes.ts), so no caller
 * has to know about them.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { BackendName } from './types.js';
import { installWasmFixes } from './kernels/wasm-fixes.js';
import { registerWebgpuKernels } from './kernels/webgpu-kernels.js';

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

/** Adapter fields Dawn fills in (some versions leave isFallbackAdapter/adapterType unset). */
export interface AdapterInfoLike {
  isFallbackAdapter?: boolean;
  info?: { vendor?: string; architecture?: string; device?: string; description?: string; adapterType?: string };
}

/**
 * Why an adapter is a software (CPU) one, or null for a real GPU. Dawn 0.6 reports Mesa's lavapipe
 * with isFallbackAdapter and adapterType unset but architecture 'software' and an llvmpipe name,
 * so every field is checked.
 */
export function softwareAdapterReason(a: AdapterInfoLike): string | null {
  const i = a.info ?? {};
  const name = i.description || i.device || i.vendor || 'unnamed adapter';
  if (a.isFallbackAdapter === true) return `'${name}' is a fallback adapter`;
  if (i.adapterType === 'cpu') return `'${name}' is a CPU adapter`;
  if (i.architecture === 'software') return `'${name}' is a software adapter`;
  if (/llvmpipe|lavapipe|softpipe|swiftshader|microsoft basic render/i.test(name)) return `'${name}' is a software adapter`;
  return null;
}

/** Whether the machine has a GPU device node at all (Linux); without one Dawn could only find a software adapter. */
function hasGpuDeviceNode(): boolean {
  if (process.platform !== 'linux') return true;
  if (existsSync('/dev/nvidia0') || existsSync('/dev/dxg')) return true;
  try {
    return readdirSync('/dev/dri').some((f) => f.startsWith('renderD'));
  } catch {
    return false;
  }
}

/** tfjs-backend-webgpu reads GPUBufferUsage, GPUMapMode, … as globals, as in a browser. */
function installWebgpuGlobals(globals: Record<string, unknown> | undefined): void {
  if (!globals) return;
  const g = globalThis as Record<string, unknown>;
  for (const [k, v] of Object.entries(globals)) if (g[k] === undefined) g[k] = v;
}

/**
 * tfjs-backend-webgpu reads synchronously (dataSync) through an OffscreenCanvas, which Node lacks;
 * without this a sync read dies with "OffscreenCanvas is not defined" deep inside tfjs. Values
 * that are already on the host (small CPU-forwarded ops) still read fine.
 */
function guardWebgpuSyncReads(): void {
  if (typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined') return;
  const be = tf.findBackend('webgpu') as unknown as { readSync(id: object): unknown; __falignGuard?: boolean } | null;
  if (!be || be.__falignGuard) return;
  const orig = be.readSync.bind(be);
  be.readSync = (dataId: object) => {
    try {
      return orig(dataId);
    } catch (e) {
      if (e instanceof ReferenceError && /OffscreenCanvas/.test(e.message)) {
        throw new Error('synchronous read (dataSync/arraySync) of a GPU tensor on the webgpu backend: Node has no OffscreenCanvas; read with `await t.data()`');
      }
      throw e;
    }
  };
  be.__falignGuard = true;
}

/**
 * Whether Dawn offers any WebGPU adapter here (software ones included), without touching the tfjs
 * backend: for tests and tools that run a webgpu subset where possible and skip with a reason.
 */
export async function probeWebgpuAdapter(): Promise<{ adapter: AdapterInfoLike | null; why: string }> {
  const mod = (await optionalImport('webgpu')) as { create?: (f: string[]) => { requestAdapter(): Promise<unknown> } } | null;
  if (mod === null || typeof mod.create !== 'function') return { adapter: null, why: 'the optional `webgpu` package is not installed' };
  try {
    const g = globalThis as unknown as { navigator?: { gpu?: { requestAdapter(): Promise<unknown> } } };
    g.navigator ??= {};
    g.navigator.gpu ??= mod.create([]); // the one Dawn instance that tryWebgpu reuses
    const gpu = g.navigator.gpu;
    const a = (await gpu.requestAdapter()) as AdapterInfoLike | null;
    if (a) return { adapter: a, why: '' };
    return { adapter: null, why: 'Dawn found no adapter (no GPU driver; for a software one install Mesa lavapipe ≥ 25, e.g. Debian bookworm-backports mesa-vulkan-drivers)' };
  } catch (e) {
    return { adapter: null, why: `Dawn failed: ${(e as Error).message}` };
  }
}

/** Why webgpu was not used in automatic mode (for the one log line); null when it was. */
let webgpuSkipped: string | null = null;

async function tryWebgpu(explicit: boolean): Promise<string | null> {
  const skip = (why: string): null => {
    if (!explicit) webgpuSkipped = why;
    return null;
  };
  if (!explicit && !hasVulkanLoader()) return null;
  // FALIGN_WEBGPU_PROBE=always asks Dawn even without a device node (diagnostics, tests).
  if (!explicit && !hasGpuDeviceNode() && process.env.FALIGN_WEBGPU_PROBE !== 'always') return null;
  configureVulkanIcd();
  const gpuMod = (await optionalImport('webgpu')) as {
    create?: (flags: string[]) => unknown;
    globals?: Record<string, unknown>;
  } | null;
  if (gpuMod === null || typeof gpuMod.create !== 'function') return null;
  installWebgpuGlobals(gpuMod.globals);
  const g = globalThis as unknown as { navigator?: { gpu?: unknown } };
  g.navigator ??= {};
  if (g.navigator.gpu === undefined) {
    try {
      g.navigator.gpu = gpuMod.create([]);
    } catch (e) {
      return skip(`Dawn failed to start (${(e as Error).message})`);
    }
  }
  const gpu = g.navigator.gpu as { requestAdapter(o?: object): Promise<unknown | null> };
  let found: AdapterInfoLike | null = null;
  try {
    found = (await gpu.requestAdapter({ powerPreference: 'high-performance' })) as AdapterInfoLike | null;
  } catch {
    found = null;
  }
  if (found === null || found === undefined) return skip('no WebGPU adapter');
  // A software (CPU) adapter would be far slower than wasm: only a real GPU counts in auto mode.
  const soft = softwareAdapterReason(found);
  if (!explicit && soft !== null) return skip(soft);
  const be = (await optionalImport('@tensorflow/tfjs-backend-webgpu')) as { webgpu_util?: Parameters<typeof registerWebgpuKernels>[0] } | null;
  if (be === null || tf.findBackendFactory('webgpu') == null) return null;
  if (be.webgpu_util) registerWebgpuKernels(be.webgpu_util);
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

/**
 * Runs one tiny op and reads it back asynchronously: a backend can register and still fail on its
 * first kernel (shader compilation, a missing driver feature). Returns why it failed, or null.
 */
export async function smokeTest(): Promise<string | null> {
  try {
    const y = tf.tidy(() => tf.add(tf.mul(tf.tensor1d([1, 2, 3, 4]), tf.scalar(2)), tf.scalar(1)));
    const v = await y.data();
    y.dispose();
    const want = [3, 5, 7, 9];
    if (v.length !== 4 || want.some((w, i) => v[i] !== w)) return `first op returned [${Array.from(v)}] instead of [${want}]`;
    return null;
  } catch (e) {
    return `first op failed: ${(e as Error).message.split('\n')[0]}`;
  }
}

/** Sets `name` as the tfjs backend; returns null on success or why it failed. */
async function activate(name: BackendName, explicit: boolean): Promise<string | null> {
  const ready = await prepare(name, explicit);
  if (ready === null) return 'its optional packages or device are not available';
  try {
    if (!(await tf.setBackend(ready))) return 'setBackend failed';
    await tf.ready();
  } catch (e) {
    return `initialisation failed: ${(e as Error).message.split('\n')[0]}`;
  }
  if (tf.getBackend() !== ready) return 'setBackend failed';
  if (ready === 'wasm') installWasmFixes();
  if (ready === 'webgpu') guardWebgpuSyncReads();
  silenceCpuBanner();
  const bad = await smokeTest();
  if (bad !== null) {
    try {
      tf.removeBackend(ready);
    } catch {
      // the next candidate is set explicitly anyway
    }
    return bad;
  }
  return null;
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
    const notes: string[] = [];
    if (wanted !== undefined) {
      const why = await activate(wanted, true);
      if (why !== null) {
        const hint =
          wanted === 'tensorflow'
            ? ' (needs @tensorflow/tfjs-node or -node-gpu installed)'
            : wanted === 'webgpu'
              ? ' (needs the `webgpu` npm package, libvulkan1 and a GPU adapter; set VK_DRIVER_FILES to the ICD json if the loader cannot find it)'
              : '';
        throw new Error(`tfjs backend '${wanted}' failed to initialise: ${why}${hint}`);
      }
      chosen = wanted;
    } else {
      for (const cand of KNOWN) {
        webgpuSkipped = null;
        const why = await activate(cand, false);
        if (why === null) {
          chosen = cand;
          break;
        }
        // Absent optional backends are the normal case and stay quiet; a present one that fails is reported.
        if (cand === 'webgpu' && webgpuSkipped !== null) notes.push(`webgpu not used: ${webgpuSkipped}`);
        else if (!why.startsWith('its optional packages')) notes.push(`${cand} not used: ${why}`);
      }
      if (chosen === null) throw new Error(`no tfjs backend could be initialised (tried tensorflow, webgpu, wasm, cpu${notes.length ? `; ${notes.join('; ')}` : ''})`);
    }
    initialised = chosen;
    if (!logged) {
      logged = true;
      process.stderr.write(`[falign] tfjs backend: ${describe(chosen)}${notes.length ? ` (${notes.join('; ')})` : ''}\n`);
    }
    return chosen;
  })();
  try {
    return await pending;
  } finally {
    pending = null;
  }
}
