// The toolbox's manifest: what doshd's toolbox of the host's file-transfer programs holds (controller/toolbox.ts
// writes it as TOOLBOX/current.json), read by doshd's planner and by `doshctl policy check`.
import type { TransferTool } from './session.ts';

export const DEFAULT_TOOLBOX = '/var/lib/dosh/toolbox';

export interface ToolboxManifest {
  /** The directory of this build under the toolbox directory (a digest of its files). */
  version: string;
  builtAt: string;
  /** The dynamic loader the programs run with (under lib/), when they are dynamic. */
  loader?: string;
  /** Whether the loader takes --argv0 (glibc 2.33 and later): the program then sees its own name as argv[0]. */
  argv0: boolean;
  /** What the toolbox holds, and where each came from on the host. */
  programs: Partial<Record<TransferTool, { from: string }>>;
  /** What it lacks, and why (not installed on the host, a program DoSH would not copy). */
  missing: Partial<Record<TransferTool, string>>;
}

export const toolboxManifestFile = (dir: string) => `${dir.replace(/\/+$/, '')}/current.json`;
