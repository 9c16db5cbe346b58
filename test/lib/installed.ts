// Where DoSH is installed on the test host, so that the tests run what users install: the test command's `dosh` step
// (scripts/lib/install-dosh.sh) installs the Debian package by default, or runs `npm run install-system` with
// DOSH_INSTALL=system. The tests name the installed programs through this module's INSTALLED (INSTALLED.doshctl...),
// never by a path of their own.

export type InstallKind = 'package' | 'system';

export interface Layout {
  kind: InstallKind;
  /** The login shell: the setuid login relay. */
  dosh: string;
  doshd: string;
  doshctl: string;
  /** The bundles. */
  lib: string;
  /** The documentation directory. */
  doc: string;
  /** The systemd unit. */
  unit: string;
}

export const LAYOUTS: Record<InstallKind, Layout> = {
  package: {
    kind: 'package',
    dosh: '/usr/bin/dosh',
    doshd: '/usr/sbin/doshd',
    doshctl: '/usr/sbin/doshctl',
    lib: '/usr/lib/dosh',
    doc: '/usr/share/doc/dosh',
    unit: '/lib/systemd/system/doshd.service',
  },
  system: {
    kind: 'system',
    dosh: '/usr/local/bin/dosh',
    doshd: '/usr/local/bin/doshd',
    doshctl: '/usr/local/bin/doshctl',
    lib: '/usr/local/lib/dosh',
    doc: '/usr/local/share/doc/dosh',
    unit: '/etc/systemd/system/doshd.service',
  },
};

/** DOSH_INSTALL: `package` (the default) or `system`; anything else is an error naming it. */
export function installKind(env: NodeJS.ProcessEnv = process.env): InstallKind {
  const v = env.DOSH_INSTALL ?? 'package';
  if (v !== 'package' && v !== 'system') throw new Error(`DOSH_INSTALL must be package or system, not ${JSON.stringify(v)}`);
  return v;
}

export const INSTALLED: Layout = LAYOUTS[installKind()];
