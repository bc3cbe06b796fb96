/**
 * Crash-safe writes of a checkpoint folder, shared by falign and Hugging Face layouts: files are
 * written (and fsynced) into `dir.tmp-<pid>-<rand>`, which then replaces `dir` by renames, so a
 * reader never sees a half-written folder and a killed writer leaves only its own tmp folder.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Writes `data` to `path` and fsyncs it before closing. */
export async function writeSynced(path: string, data: Uint8Array | string): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Whether `p` exists (file or folder). */
export async function pathExists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/**
 * Fills a fresh temporary folder with `fill(tmp)`, then puts it in place of `dir`: an existing
 * `dir` is moved aside first and removed after the new one is in place. On error the temporary
 * folder is removed and `dir` is left as it was.
 */
export async function replaceDirAtomically(dir: string, fill: (tmp: string) => Promise<void>): Promise<void> {
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const tmp = `${dir}.tmp-${tag}`;
  await mkdir(dirname(dir), { recursive: true });
  await mkdir(tmp);
  try {
    await fill(tmp);
    if (await pathExists(dir)) {
      const old = `${dir}.old-${tag}`;
      await rename(dir, old);
      await rename(tmp, dir);
      await rm(old, { recursive: true, force: true });
    } else {
      await rename(tmp, dir);
    }
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
