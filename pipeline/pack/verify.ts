/**
 * `slimnet verify <pack.tgz>`: re-checks a release pack against its manifest — the gzip CRC, every tar header,
 * every listed file's size and sha256, and that the archive holds nothing the manifest does not list.
 */
import { SlimnetError } from '../errors.ts';
import { MANIFEST_FILE, sha256, type PackManifest } from './pack.ts';
import { readTgz, TarError } from './tar.ts';

export interface VerifyResult {
  ok: boolean;
  /** Files whose size and sha256 matched. */
  verified: number;
  problems: string[];
  manifest?: PackManifest;
}

export function verifyPack(tgz: Buffer): VerifyResult {
  let entries;
  try {
    entries = readTgz(tgz);
  } catch (e) {
    if (e instanceof TarError) return { ok: false, verified: 0, problems: [`the archive is corrupt: ${e.message}`] };
    throw e;
  }
  const byPath = new Map<string, Uint8Array>();
  const problems: string[] = [];
  for (const e of entries) {
    if (byPath.has(e.path)) problems.push(`${e.path}: appears twice in the archive`);
    byPath.set(e.path, e.data);
  }
  const manifestBytes = byPath.get(MANIFEST_FILE);
  if (!manifestBytes) return { ok: false, verified: 0, problems: [...problems, `no ${MANIFEST_FILE} in the archive: not a slimnet pack`] };
  let manifest: PackManifest;
  try {
    manifest = JSON.parse(Buffer.from(manifestBytes).toString('utf8')) as PackManifest;
  } catch (e) {
    return { ok: false, verified: 0, problems: [...problems, `${MANIFEST_FILE} is not valid JSON (${(e as Error).message})`] };
  }
  if (!Array.isArray(manifest.files)) return { ok: false, verified: 0, problems: [...problems, `${MANIFEST_FILE} lists no files`] };
  let verified = 0;
  const listed = new Set<string>([MANIFEST_FILE]);
  for (const f of manifest.files) {
    listed.add(f.path);
    const data = byPath.get(f.path);
    if (!data) {
      problems.push(`${f.path}: listed in the manifest, missing from the archive`);
      continue;
    }
    if (data.length !== f.size) problems.push(`${f.path}: ${data.length} bytes, the manifest says ${f.size}`);
    else if (sha256(data) !== f.sha256) problems.push(`${f.path}: sha256 ${sha256(data)} does not match the manifest's ${f.sha256}`);
    else verified++;
  }
  for (const p of byPath.keys()) if (!listed.has(p)) problems.push(`${p}: in the archive but not in the manifest`);
  return { ok: problems.length === 0, verified, problems, manifest };
}

/** Reading the file itself is the CLI's part; this names a missing one the usual way. */
export function packNotFound(file: string): SlimnetError {
  return new SlimnetError('PACK_NOT_FOUND', file, 'no such file', 'pass a .tgz written by slimnet pack');
}
