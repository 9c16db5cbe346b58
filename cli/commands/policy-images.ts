// What `doshctl policy check` says about the images a valid policy names, looked at on this host's engine: an image
// that is not here, one without the command the policy runs in it (its containers cannot start), and a file transfer
// that neither the image nor DoSH's toolbox can serve (refused at login: TransferUnavailable). Each is a warning with
// the file and line that set the image; none fails the check, since the image may be loaded before the policy is used.
import type { ToolboxManifest } from '../../api/toolbox.ts';
import { TRANSFER_TOOLS, type TransferTool } from '../../api/session.ts';
import type { Engine } from '../../engine/docker.ts';
import { ImageNotFoundError } from '../../engine/docker.ts';
import { imageUses } from '../../policy/images.ts';
import { SFTP_SERVER_PATHS } from '../../policy/remote-command.ts';
import type { CompiledPolicy } from '../../policy/index.ts';

/** What can be learned of an image's files: the first of `paths` that is an executable file, and the image's PATH. */
export interface ImageFiles {
  executable(paths: string[]): Promise<string | undefined>;
  path: string[];
}

/** Opens an image for looking (undefined when it is not on this host), and closes it. */
export type LookIntoImage = <T>(image: string, fn: (files: ImageFiles) => Promise<T>) => Promise<T | undefined>;

const USES: Record<TransferTool, string> = { 'sftp-server': 'sftp and scp', scp: 'scp -O (the legacy protocol)', rsync: 'rsync' };

export async function imageWarnings(p: CompiledPolicy, look: LookIntoImage, toolbox: { dir: string; manifest: ToolboxManifest | undefined }): Promise<string[]> {
  const out: string[] = [];
  const { uses, variable } = imageUses(p);
  for (const o of variable) out.push(`${o.file}:${o.line}: the image or command set here depends on the user (a variable): not looked at`);
  const toolsSeen = new Set<string>();
  for (const u of uses) {
    const at = `${u.origin.file}:${u.origin.line}`;
    const found = await look(u.image, async (files) => {
      const inPath = (name: string) => (name.startsWith('/') ? [name] : files.path.map((d) => `${d.replace(/\/+$/, '')}/${name}`));
      if (!(await files.executable(inPath(u.shell)))) out.push(`${at}: image ${u.image} has no ${u.shell} (the command the policy runs in it): its containers cannot start, and every login given it fails`);
      if (toolsSeen.has(u.image)) return true;
      toolsSeen.add(u.image);
      for (const tool of TRANSFER_TOOLS) {
        if (await files.executable(tool === 'sftp-server' ? SFTP_SERVER_PATHS : inPath(tool))) continue;
        if (toolbox.manifest?.programs[tool]) continue;
        const why = !toolbox.manifest ? `doshd has no toolbox at ${toolbox.dir} to lend it one (doshd builds it at start, unless run with --toolbox "")` : `DoSH's toolbox lacks it too (${toolbox.manifest.missing[tool] ?? 'not built'})`;
        out.push(`${at}: image ${u.image} has no ${tool}, and ${why}: ${USES[tool]} into it will be refused`);
      }
      return true;
    });
    if (!found) out.push(`${at}: image ${u.image} is not on this host: logins given it are refused (ImageNotFound) until it is pulled or loaded`);
  }
  return out;
}

/** Looks into an image through a container created from it and never started, removed afterwards. */
export function engineLook(engine: Pick<Engine, 'createContainer' | 'inspectContainer' | 'statPath' | 'removeContainer'>): LookIntoImage {
  let n = 0;
  return async (image, fn) => {
    let id: string;
    try {
      id = await engine.createContainer(`dosh-policy-check-${process.pid}-${++n}`, { Image: image, Cmd: ['/'], Labels: {}, HostConfig: {} });
    } catch (e) {
      if (e instanceof ImageNotFoundError) return undefined;
      throw e;
    }
    try {
      const env = (await engine.inspectContainer(id)).env;
      const path = (env.find((e) => e.startsWith('PATH='))?.slice(5) ?? '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin').split(':').filter((d) => d.startsWith('/'));
      return await fn({
        path,
        async executable(paths) {
          for (const p of paths) {
            const st = await engine.statPath(id, p);
            if (st?.kind === 'file' && (st.mode & 0o111) !== 0) return p;
          }
          return undefined;
        },
      });
    } finally {
      await engine.removeContainer(id).catch(() => undefined);
    }
  };
}
