import { readdir, readFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { ComtradeError, type ComtradeRecord, decodeText, parseComtrade, splitCff } from './comtrade.ts';

async function readOrFail(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (err) {
    throw new ComtradeError(
      path,
      `cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
    );
  }
}

/** Finds `<stem>.<ext>` next to `path`, in any letter case (records often come as .CFG/.DAT). */
async function sibling(path: string, ext: string): Promise<string | undefined> {
  const dir = dirname(path);
  const stem = basename(path, extname(path)).toLowerCase();
  const entries = await readdir(dir).catch(() => [] as string[]);
  const hit = entries.find((e) => e.toLowerCase() === `${stem}.${ext}`);
  return hit ? join(dir, hit) : undefined;
}

/**
 * Loads a COMTRADE record from a .cfg (with its .dat beside it, and .hdr if present), a .dat, or
 * a 2013 .cff container.
 */
export async function loadComtrade(path: string): Promise<ComtradeRecord> {
  const ext = extname(path).toLowerCase();
  if (ext === '.cff') {
    const parts = splitCff(await readOrFail(path), path);
    const record = parseComtrade(parts.cfg, parts.dat, { cfg: `${path} [CFG]`, dat: `${path} [DAT]` });
    if (parts.hdr.trim() !== '') record.header = parts.hdr;
    return record;
  }
  if (ext !== '.cfg' && ext !== '.dat') {
    throw new ComtradeError(path, 'a COMTRADE record is a .cfg (+ .dat), or a .cff');
  }
  // The named file first, so a wrong path is reported as such rather than as a missing sibling.
  const named = await readOrFail(path);
  const cfgPath = ext === '.cfg' ? path : await sibling(path, 'cfg');
  const datPath = ext === '.dat' ? path : await sibling(path, 'dat');
  if (!cfgPath) throw new ComtradeError(path, 'no .cfg configuration file beside it');
  if (!datPath) throw new ComtradeError(cfgPath, 'no .dat data file beside it');
  const [cfg, dat] = ext === '.cfg' ? [named, await readOrFail(datPath)] : [await readOrFail(cfgPath), named];
  const record = parseComtrade(decodeText(cfg), dat, { cfg: cfgPath, dat: datPath });
  const hdrPath = await sibling(cfgPath, 'hdr');
  if (hdrPath) record.header = decodeText(await readOrFail(hdrPath));
  return record;
}
