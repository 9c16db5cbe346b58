// File access for the loaders, injectable so tests run on an in-memory file system.
import * as fs from 'node:fs';
import { globWith } from './glob.ts';
import { nodeHostFs, type PolicyHost } from './host-path.ts';

export interface PolicyIO {
  readFile(path: string): string;
  /** Absolute paths matching a shell glob, sorted; [] when nothing matches. */
  glob(pattern: string): string[];
  /** The host the policy's bind mounts come from, to check them at load time; none: only as written. */
  host?: PolicyHost;
}

export const nodeIO: PolicyIO = {
  host: { fs: nodeHostFs },
  readFile(p: string): string {
    return fs.readFileSync(p, 'utf8');
  },
  glob(pattern: string): string[] {
    return globWith(pattern, {
      list(dir) {
        try {
          return fs.readdirSync(dir);
        } catch {
          return [];
        }
      },
      exists(p) {
        return fs.existsSync(p);
      },
    });
  },
};

/** An in-memory PolicyIO over a map of absolute path → content (a value of `null` means unreadable). */
export function memoryIO(files: Record<string, string | null>): PolicyIO {
  const list = (dir: string): string[] => {
    const prefix = dir.endsWith('/') ? dir : dir + '/';
    const names = new Set<string>();
    for (const f of Object.keys(files)) {
      if (f.startsWith(prefix)) names.add(f.slice(prefix.length).split('/')[0]);
    }
    return [...names];
  };
  return {
    readFile(p: string): string {
      if (!(p in files)) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${p}'`), { code: 'ENOENT' });
      const c = files[p];
      if (c === null) throw Object.assign(new Error(`EACCES: permission denied, open '${p}'`), { code: 'EACCES' });
      return c;
    },
    glob(pattern: string): string[] {
      return globWith(pattern, {
        list,
        exists: (p) => p in files || list(p).length > 0,
      });
    },
  };
}
