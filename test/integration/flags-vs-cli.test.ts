// The DOCKERPARAMETERS translation against the docker CLI itself, for every entry of SUPPORTED_FLAGS.
//
// For each case, the same flags go two ways to the real engine (/var/run/docker.sock, image dosh-test/busybox:latest):
//   cli: `docker create --name dtf-cli-RUN-N FLAGS DEFAULTS dosh-test/busybox:latest /bin/sh`, where DEFAULTS are
//        DoSH's secure defaults (--cap-drop ALL, --security-opt no-new-privileges:true, --init, --pids-limit 1024),
//        --cap-drop ALL always (DoSH drops ALL whatever the policy says), the others only when FLAGS do not set that
//        field themselves, since resolvePolicy adds them the same way;
//   api: a one-line dosh.conf `DOCKERPARAMETERS=FLAGS` (shell-quoted), loaded with memoryIO + loadLegacyPolicy,
//        resolved with resolvePolicy for a fake user, and the `create` body (plus Image and Cmd) POSTed through the
//        Engine class of engine/docker.ts.
// Then `docker inspect` of both must agree on Config, HostConfig and the network names (after removing what is
// unrelated to the flags: the id-derived hostname, the CLI's attach flags, and empty-vs-null collections).
// The CLI talks to the engine through a recording proxy, so its create request is compared too, field by field for
// every field the translation sets: this catches values the daemon discards at create time on this host
// (e.g. --blkio-weight without a blkio weight controller), which the inspect comparison alone cannot see.
// Containers are only created, never started: that is where the translation ends, and it lets --gpus (no NVIDIA
// runtime here) and the device flags (/dev/null, /dev/zero, /dev/loop0) be compared on this machine too.
// Unsafe values are tried with the opt-in key in the section, and checked to be refused without it.
// A second part lists values docker refuses on every host and requires the policy loader to refuse them as well.
// Every container, the volumes, the network and the temporary files are removed in `after`.
// needs: docker busybox
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { DEFAULT_DOCKER_SOCKET, Engine, type CreateBody } from '../../engine/docker.ts';
import { loadLegacyPolicy, memoryIO, PolicyError, resolvePolicy, SUPPORTED_FLAGS, UNSAFE_KEY, type UserInfo } from '../../policy/index.ts';

const IMAGE = 'dosh-test/busybox:latest';
const RUN = randomBytes(3).toString('hex');
const TMP = fs.mkdtempSync(path.join(tmpdir(), 'dtf-'));
const DATA = path.join(TMP, 'data');
const ENV_FILE = path.join(TMP, 'site.env');
// CRLF lines, a comment, a blank line, leading blanks, an empty value, '=' and blanks inside a value: parsed by the
// CLI (opts.ParseEnvFile) and by the translation (at policy load) alike.
const ENV_TEXT = '# site environment\r\nTZ=Europe/Madrid\r\n\n  LANG=C.UTF-8\nEMPTY=\nGREETING=hello there = world\n';
const VOLUME = `dtf-vol-${RUN}`;
const NETWORK = `dtf-net-${RUN}`;
/** A container the container: modes of --network, --pid and --ipc point at. */
const PEER = `dtf-peer-${RUN}`;
const CONF = '/etc/dosh/dosh.conf';
const USER: UserInfo = { name: 'dtfuser', uid: 4242, gid: 4242, home: '/home/dtfuser', shell: '/bin/sh', groups: [{ name: 'dtfuser', gid: 4242 }] };

interface Case {
  /** The SUPPORTED_FLAGS entry (long form) this case is for. */
  flag: string;
  /** The docker CLI arguments. */
  args: string[];
  /** The DOCKERPARAMETERS value, when it is not simply `args` shell-quoted (e.g. written with $HOME). */
  conf?: string;
  /** The section needs the unsafe opt-in. */
  unsafe?: boolean;
  /** The docker CLI arguments that give the same container, where DoSH deliberately differs from `args`. */
  cli?: string[];
}

const C = (flag: string, args: string[], more: Partial<Case> = {}): Case => ({ flag, args, ...more });

const CASES: Case[] = [
  C('--volume', ['-v', `${DATA}:/data:ro`]),
  C('--volume', [`--volume=${DATA}:/data:rw,z`, '-v', `${DATA}:/data2:ro,rslave`]),
  C('--volume', ['-v', `${VOLUME}:/vol`]),
  C('--volume', ['-v', '/scratch']),
  C('--volume', ['-v', `/home/${USER.name}:/home/${USER.name}`], { conf: '-v $HOME:/home/$USER' }),
  C('--volume', ['-v', '/var/run/docker.sock:/var/run/docker.sock'], { unsafe: true }),
  C('--volume', ['-v', `${VOLUME}:/vol:nocopy`, '-v', `${DATA}:/z:Z`, '-v', `${DATA}:/d:delegated`]),
  C('--mount', ['--mount', `type=bind,source=${DATA},target=/data,readonly,bind-propagation=rslave`]),
  C('--mount', [`--mount=type=volume,src=${VOLUME},dst=/vol,volume-nocopy`]),
  C('--mount', ['--mount', 'type=tmpfs,destination=/scratch,tmpfs-size=64m,tmpfs-mode=1770']),
  C('--mount', ['--mount', 'target=/anon']),
  C('--mount', ['--mount', 'type=bind,src=/,dst=/host'], { unsafe: true }),
  C('--volume', ['-v', '/sys:/host-sys:ro'], { unsafe: true }),
  C('--mount', ['--mount', `type=volume,source=${VOLUME}-2,target=/v2,volume-driver=local,volume-opt=type=tmpfs,volume-opt=device=tmpfs,volume-label=a=b,consistency=cached`]),
  C('--mount', ['--mount', `type=bind,source=${DATA},target=/data,ro=false,bind-nonrecursive`]),
  C('--mount', ['--mount', `type=volume,src=${VOLUME},dst=/vol,readonly=true,volume-subpath=sub`]),
  C('--tmpfs', ['--tmpfs', '/run:size=64m', '--tmpfs=/scratch']),
  C('--tmpfs', ['--tmpfs', '/z:rw,noexec,nosuid,size=1m', '--tmpfs', '/a']),
  C('--workdir', ['-w', '/srv']),
  C('--workdir', ['-w=/srv/x']),
  C('--workdir', [`--workdir=/home/${USER.name}`], { conf: '--workdir=$HOME' }),
  C('--env', ['-e', 'LANG=C.UTF-8', '--env=GREETING=hello world', '-eA=1', '-e', 'EMPTY=']),
  C('--env-file', ['--env-file', ENV_FILE]),
  C('--env-file', ['-e', 'A=1', `--env-file=${ENV_FILE}`, '-e', 'TZ=UTC']),
  C('--memory', ['-m', '64m']),
  C('--memory', ['--memory=1.5GiB']),
  C('--memory', ['-m2g']),
  C('--memory', ['-m=512M', '--memory-reservation', '256m']),
  C('--memory-swap', ['-m', '64m', '--memory-swap', '128m']),
  C('--memory-swap', ['-m', '64m', '--memory-swap=-1']),
  C('--memory-reservation', ['--memory-reservation', '32m']),
  C('--cpus', ['--cpus', '1.5']),
  C('--cpus', ['--cpus=0.25']),
  C('--cpu-shares', ['-c', '512']),
  C('--cpu-shares', ['--cpu-shares=0x100']),
  C('--cpu-shares', ['-c=010']),
  C('--cpuset-cpus', ['--cpuset-cpus', '0']),
  C('--cpuset-cpus', ['--cpuset-cpus=0-1']),
  C('--pids-limit', ['--pids-limit', '512']),
  C('--pids-limit', ['--pids-limit=-1']),
  C('--pids-limit', ['--pids-limit', '1_000']),
  C('--device', ['--device', '/dev/null']),
  C('--device', ['--device=/dev/zero:/dev/myzero:r', '--device', '/dev/loop0:rw']),
  C('--gpus', ['--gpus', 'all']),
  C('--gpus', ['--gpus', '"device=0,2",capabilities=compute']),
  C('--gpus', ['--gpus=2']),
  C('--gpus', ['--gpus', 'count=2,driver=nvidia,capabilities=utility,options=a=b']),
  C('--cap-add', ['--cap-add', 'NET_BIND_SERVICE']),
  C('--cap-add', ['--cap-add=kill', '--cap-add', 'CAP_SYS_CHROOT']),
  C('--cap-add', ['--cap-add', 'NET_RAW'], { unsafe: true }),
  C('--cap-add', ['--cap-add=chown', '--cap-add', 'CAP_KILL'], { unsafe: true }),
  C('--cap-add', ['--cap-add', 'SYS_ADMIN'], { unsafe: true }),
  C('--cap-add', ['--cap-add', 'ALL'], { unsafe: true }),
  C('--cap-add', ['--cap-add', 'CHOWN', '--cap-add=all'], { unsafe: true }),
  // DoSH drops ALL whatever --cap-drop says (the CLI side gets --cap-drop ALL from defaultsFor, as DoSH adds it).
  // and --cap-drop ALL alone is what it sends: the CLI would send the names beside ALL.
  C('--cap-drop', ['--cap-drop', 'NET_RAW', '--cap-drop=mknod'], { cli: [] }),
  C('--cap-drop', ['--cap-drop', 'ALL', '--cap-add', 'KILL']),
  C('--cap-drop', ['--cap-add', 'KILL', '--cap-drop', 'kill', '--cap-drop', 'NET_RAW'], { cli: ['--cap-add', 'KILL'] }),
  C('--cap-drop', ['--cap-drop', 'ALL', '--cap-drop', 'MKNOD'], { cli: [] }),
  C('--network', ['--network', 'bridge']),
  C('--network', ['--net=none']),
  C('--network', ['--network', NETWORK]),
  C('--network', ['--network', 'host'], { unsafe: true }),
  C('--network', ['--network', `container:${PEER}`], { unsafe: true }),
  C('--hostname', ['-h', 'devbox']),
  C('--hostname', ['--hostname=box.example']),
  C('--hostname', ['-h=a1-b2']),
  C('--dns', ['--dns', '192.0.2.53', '--dns=2001:DB8:0::1']),
  C('--dns', ['--dns', '::ffff:192.0.2.1', '--dns', '192.0.2.53']),
  C('--add-host', ['--add-host', 'db.internal:192.0.2.10']),
  C('--add-host', ['--add-host=gw:host-gateway']),
  C('--add-host', ['--add-host', 'v6=[2001:db8::1]']),
  C('--add-host', ['--add-host', 'h6:::1', '--add-host=h4=192.0.2.1']),
  C('--read-only', ['--read-only']),
  C('--read-only', ['--read-only=false']),
  C('--shm-size', ['--shm-size', '256m']),
  C('--ulimit', ['--ulimit', 'nofile=1024:2048', '--ulimit=nproc=100']),
  C('--ulimit', ['--ulimit', 'nproc=100', '--ulimit', 'nofile=1024:2048', '--ulimit', 'core=0', '--ulimit', 'nproc=50:60']),
  C('--security-opt', ['--security-opt', 'no-new-privileges']),
  C('--security-opt', ['--security-opt', 'apparmor=dtf-profile'], { unsafe: true }),
  C('--security-opt', ['--security-opt=label=level:s0:c100,c200'], { unsafe: true }),
  C('--security-opt', ['--security-opt', 'label=type:spc_t'], { unsafe: true }),
  C('--security-opt', ['--security-opt', 'apparmor=docker-default']),
  C('--security-opt', ['--security-opt', 'seccomp=unconfined'], { unsafe: true }),
  C('--security-opt', ['--security-opt', 'no-new-privileges=false'], { unsafe: true }),
  C('--security-opt', ['--security-opt', 'systempaths=unconfined'], { unsafe: true }),
  C('--security-opt', ['--security-opt', 'label=disable'], { unsafe: true }),
  C('--security-opt', ['--security-opt', 'label:disable', '--security-opt=apparmor=unconfined'], { unsafe: true }),
  C('--security-opt', ['--security-opt', 'seccomp=builtin', '--security-opt', 'no-new-privileges:true']),
  C('--group-add', ['--group-add', 'video', '--group-add=4242']),
  C('--label', ['-l', 'team=research', '--label', 'flag', '--label=k=v=w']),
  C('--label', ['-l=x=y', '--label', 'note=a b  c', '--label', 'k=']),
  C('--init', ['--init']),
  C('--init', ['--init=false']),
  C('--init', ['--init', '--init=false']),
  C('--restart', ['--restart', 'on-failure:3']),
  C('--restart', ['--restart=unless-stopped']),
  C('--restart', ['--restart', 'on-failure']),
  C('--restart', ['--restart=no']),
  C('--log-driver', ['--log-driver', 'json-file']),
  C('--log-driver', ['--log-driver=none']),
  C('--log-opt', ['--log-opt', 'max-size=10m', '--log-opt', 'max-file=3']),
  C('--log-opt', ['--log-driver', 'local', '--log-opt=max-size=5m']),
  C('--stop-timeout', ['--stop-timeout', '10']),
  C('--stop-timeout', ['--stop-timeout=-1']),
  C('--stop-timeout', ['--stop-timeout', '0x10']),
  C('--oom-score-adj', ['--oom-score-adj', '500']),
  C('--oom-score-adj', ['--oom-score-adj=-100']),
  C('--blkio-weight', ['--blkio-weight', '300']),
  C('--device-read-bps', ['--device-read-bps', '/dev/loop0:10mb']),
  C('--device-read-bps', ['--device-read-bps', '/dev/loop0:1.5m', '--device-read-bps', '/dev/zero:1']),
  C('--device-write-bps', ['--device-write-bps=/dev/loop0:1g']),
  C('--device-read-iops', ['--device-read-iops', '/dev/loop0:1000']),
  C('--device-write-iops', ['--device-write-iops=/dev/loop0:200']),
  C('--privileged', ['--privileged'], { unsafe: true }),
  C('--privileged', ['--privileged=false']),
  C('--pid', ['--pid', 'host'], { unsafe: true }),
  C('--pid', [`--pid=container:${PEER}`], { unsafe: true }),
  C('--ipc', ['--ipc', 'private']),
  C('--ipc', ['--ipc=shareable']),
  C('--ipc', ['--ipc', 'none']),
  C('--ipc', ['--ipc', 'host'], { unsafe: true }),
  C('--ipc', ['--ipc', `container:${PEER}`], { unsafe: true }),
  C('--uts', ['--uts', 'host'], { unsafe: true }),
  C('--userns', ['--userns=host'], { unsafe: true }),
  C('--cgroupns', ['--cgroupns', 'private']),
  C('--cgroupns', ['--cgroupns=host'], { unsafe: true }),
  // A realistic line: the home directory bind mounts of the seed example, limits and an environment.
  C('--volume', ['-v', '/etc/passwd:/etc/passwd:ro', '-v', `/home/${USER.name}:/home/${USER.name}`, '-w', `/home/${USER.name}`, '-m', '64m', '--pids-limit', '99', '-e', 'DOSH_TIER=advanced'], {
    conf: '-v /etc/passwd:/etc/passwd:ro -v /home/$USER:/home/$USER -w /home/$USER -m 64m --pids-limit 99 -e DOSH_TIER=advanced',
  }),
];

/**
 * Entries of SUPPORTED_FLAGS that cannot be tried on this machine, each with the reason (printed and counted by the
 * first test). Empty: every one can, since containers are only created (--gpus needs the NVIDIA runtime only to start).
 */
const SKIPPED: Record<string, string> = {};

// ---------------------------------------------------------------------------------------------------------------

const engine = new Engine(DEFAULT_DOCKER_SOCKET);
const created: string[] = [];
let proxy: { socket: string; creates: Record<string, unknown>[]; close(): Promise<void> };

/** Single-quotes a word for DOCKERPARAMETERS when it needs it. */
function quote(w: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(w) ? w : `'${w.replace(/'/g, `'\\''`)}'`;
}

function confFor(c: Case, params = c.conf ?? c.args.map(quote).join(' ')): string {
  assert.ok(!params.includes('#'), 'a # would start a comment in dosh.conf');
  return c.unsafe ? `[user:${USER.name}]\n${UNSAFE_KEY}=true\nDOCKERPARAMETERS=${params}\n` : `DOCKERPARAMETERS=${params}\n`;
}

function translate(conf: string, files: Record<string, string> = {}) {
  return resolvePolicy(loadLegacyPolicy(CONF, memoryIO({ [CONF]: conf, [ENV_FILE]: ENV_TEXT, ...files })), USER);
}

/** The value of each occurrence of flag NAME (long, no dashes) in argv; `''` for a boolean given without a value. */
function valuesOf(args: string[], name: string): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === `--${name}`) out.push(args[i + 1]?.startsWith('-') || args[i + 1] === undefined ? '' : args[i + 1]);
    else if (args[i].startsWith(`--${name}=`)) out.push(args[i].slice(name.length + 3));
  }
  return out;
}

/** DoSH's secure defaults as CLI flags, for the fields the case's own flags leave alone (as resolvePolicy does). */
function defaultsFor(args: string[]): string[] {
  const d: string[] = [];
  // Always: DoSH drops ALL whatever the policy's --cap-drop says (the CLI then sends ALL alone, as DoSH does).
  d.push('--cap-drop', 'ALL');
  if (!valuesOf(args, 'security-opt').some((v) => /^no-new-privileges([=:]|$)/.test(v.trim()))) d.push('--security-opt', 'no-new-privileges:true');
  if (!args.some((a) => a === '--init' || a.startsWith('--init='))) d.push('--init');
  if (!valuesOf(args, 'pids-limit').length) d.push('--pids-limit', '1024');
  return d;
}

function docker(args: string[], opts: { host?: string } = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const p = spawn('docker', [...(opts.host ? ['-H', `unix://${opts.host}`] : []), ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME ?? '/root', DOCKER_CONFIG: path.join(TMP, 'docker-config') },
    });
    let stdout = '';
    let stderr = '';
    p.stdout.on('data', (d) => (stdout += d));
    p.stderr.on('data', (d) => (stderr += d));
    p.on('error', reject);
    p.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A unix-socket HTTP proxy in front of the engine that records every container create body the CLI sends. */
async function startProxy(): Promise<typeof proxy> {
  const socket = path.join(TMP, 'engine-proxy.sock');
  const creates: Record<string, unknown>[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (req.method === 'POST' && /\/containers\/create(\?|$)/.test(req.url ?? '')) creates.push(JSON.parse(body.toString() || '{}'));
      const up = http.request({ socketPath: DEFAULT_DOCKER_SOCKET, method: req.method, path: req.url, headers: req.headers }, (ur) => {
        res.writeHead(ur.statusCode ?? 502, ur.headers);
        ur.pipe(res);
      });
      up.on('error', (e) => {
        res.writeHead(502);
        res.end(String(e));
      });
      up.end(body);
    });
  });
  await new Promise<void>((r) => server.listen(socket, r));
  return { socket, creates, close: () => new Promise<void>((r) => server.close(() => r())) };
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** Empty collections and null mean "not set" to the engine: drop them, recursively. */
function prune(v: Json | undefined): Json | undefined {
  if (v === null || v === undefined) return undefined;
  if (Array.isArray(v)) return v.length ? v.map((x) => prune(x) ?? null) : undefined;
  if (typeof v === 'object') {
    const o: { [k: string]: Json } = {};
    for (const [k, x] of Object.entries(v)) {
      const p = prune(x);
      if (p !== undefined) o[k] = p;
    }
    return Object.keys(o).length ? o : undefined;
  }
  return v;
}

/**
 * Env and Binds are compared as sorted lists: docker CLI 28 sends `-e` and `-v` values in a varying order from one run
 * to the next (seen here: `-e X=1 -e A=1 -e B=2` sent as [B, X, A] once in six runs, and two `-v` swapped), so their
 * order is not something a translation can match (and the daemon sorts mounts by target before mounting them).
 * Nothing else is normalised: every other list the CLI sends was seen in a stable order (sorted for CapAdd, CapDrop
 * and Ulimits), and is compared as it is.
 */
function unordered(config: Record<string, Json>, hostConfig: Record<string, Json>): void {
  if (Array.isArray(config.Env)) config.Env = [...config.Env].sort();
  if (Array.isArray(hostConfig.Binds)) hostConfig.Binds = [...hostConfig.Binds].sort();
}

/** The parts of `docker inspect` that flags can change, without what differs between any two containers. */
function snapshot(info: { Id: string; Config: Record<string, Json>; HostConfig: Record<string, Json>; NetworkSettings: { Networks: Record<string, unknown> | null } }) {
  const config = { ...info.Config };
  if (config.Hostname === info.Id.slice(0, 12)) config.Hostname = '(container id)';
  // `docker create` attaches stdout and stderr by default; DoSH never attaches to the container's own process.
  delete config.AttachStdin;
  delete config.AttachStdout;
  delete config.AttachStderr;
  const hostConfig = { ...info.HostConfig };
  const rp = hostConfig.RestartPolicy as { Name?: string } | null;
  if (rp && rp.Name === '') hostConfig.RestartPolicy = { ...rp, Name: 'no' }; // "" and "no" are the same policy
  unordered(config, hostConfig);
  return prune({ Config: config, HostConfig: hostConfig, Networks: Object.keys(info.NetworkSettings.Networks ?? {}).sort() }) as Record<string, Json>;
}

/** JSON with object keys sorted: key order means nothing to the engine. */
function canon(v: Json | undefined): string {
  if (Array.isArray(v)) return `[${v.map(canon).join(',')}]`;
  if (v && typeof v === 'object') return `{${Object.keys(v).sort().map((k) => `${JSON.stringify(k)}:${canon(v[k])}`).join(',')}}`;
  return JSON.stringify(v) ?? 'undefined';
}

/** Paths where a and b differ, with both values, for the failure message. */
function diff(a: Json | undefined, b: Json | undefined, at = ''): string[] {
  if (canon(a) === canon(b)) return [];
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    return [...new Set([...Object.keys(a), ...Object.keys(b)])].sort().flatMap((k) => diff(a[k], b[k], at ? `${at}.${k}` : k));
  }
  return [`${at}: docker CLI ${JSON.stringify(a)}, translation ${JSON.stringify(b)}`];
}

async function inspect(name: string) {
  const r = await docker(['inspect', name]);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout)[0];
}

before(async () => {
  await engine.ping();
  assert.equal((await docker(['image', 'inspect', IMAGE])).code, 0, `${IMAGE} must exist locally (scripts/lib/build-images.sh)`);
  fs.mkdirSync(DATA);
  fs.mkdirSync(path.join(TMP, 'docker-config'));
  fs.writeFileSync(ENV_FILE, ENV_TEXT);
  for (const cmd of [['volume', 'create', VOLUME], ['network', 'create', NETWORK], ['create', '--name', PEER, '--ipc', 'shareable', IMAGE, '/bin/sh']]) {
    const r = await docker(cmd);
    assert.equal(r.code, 0, r.stderr);
  }
  proxy = await startProxy();
});

after(async () => {
  const r = await docker(['ps', '-aq', '--filter', `name=dtf-cli-${RUN}-`, '--filter', `name=dtf-api-${RUN}-`]).catch(() => ({ stdout: '' }));
  const ids = [...new Set([...created, ...r.stdout.split('\n').filter(Boolean)])];
  if (ids.length) await docker(['rm', '-f', '-v', ...ids]);
  await docker(['rm', '-f', PEER]);
  await docker(['network', 'rm', NETWORK]);
  await docker(['volume', 'rm', '-f', VOLUME, `${VOLUME}-2`]);
  await proxy?.close();
  fs.rmSync(TMP, { recursive: true, force: true });
});

test('every SUPPORTED_FLAGS entry is compared with the docker CLI, or skipped with a reason', () => {
  const covered = new Set(CASES.map((c) => c.flag));
  const missing = SUPPORTED_FLAGS.filter((f) => !covered.has(f.flag) && !(f.flag in SKIPPED)).map((f) => f.flag);
  assert.deepEqual(missing, [], `flags with neither a case nor a reason to skip: ${missing.join(' ')}`);
  for (const f of Object.keys(SKIPPED)) assert.ok(SUPPORTED_FLAGS.some((s) => s.flag === f), `${f} is skipped but not supported`);
  for (const c of CASES) assert.ok(SUPPORTED_FLAGS.some((s) => s.flag === c.flag), `case for unknown flag ${c.flag}`);
  // Every short form and alias is exercised too.
  const words = CASES.flatMap((c) => c.args);
  for (const f of SUPPORTED_FLAGS) {
    if (f.flag in SKIPPED) continue;
    for (const form of [f.short, ...f.aliases].filter((x): x is string => !!x)) {
      assert.ok(words.some((w) => w === form || w.startsWith(form + '=') || (form.length === 2 && w.startsWith(form) && !w.startsWith('--'))), `${form} (${f.flag}) is never used`);
    }
  }
  const s = Object.entries(SKIPPED);
  console.log(`# flags-vs-cli: ${SUPPORTED_FLAGS.length - s.length} of ${SUPPORTED_FLAGS.length} flags compared in ${CASES.length} cases; ${s.length} skipped${s.map(([f, why]) => `\n#   ${f}: ${why}`).join('')}`);
});

test('unsafe-only flags and unsafe values are refused without the opt-in key', () => {
  const unsafeFlags = new Set(SUPPORTED_FLAGS.filter((f) => f.unsafeOnly).map((f) => f.flag));
  for (const f of unsafeFlags) assert.ok(CASES.some((c) => c.flag === f && c.unsafe), `${f} has no case with the opt-in`);
  for (const c of CASES.filter((x) => x.unsafe)) {
    assert.throws(() => translate(confFor({ ...c, unsafe: false })), (e: unknown) => e instanceof PolicyError && /is refused/.test(e.message) && e.line === 1, `${c.args.join(' ')} must need ${UNSAFE_KEY}`);
  }
});

describe('docker create FLAGS and the translation give the same container', () => {
  CASES.forEach((c, i) => {
    test(`${c.args.join(' ')}${c.unsafe ? ` (with ${UNSAFE_KEY})` : ''}`, async () => {
      const eff = translate(confFor(c));
      const cliName = `dtf-cli-${RUN}-${i}`;
      const apiName = `dtf-api-${RUN}-${i}`;

      const before = proxy.creates.length;
      const cliArgs = ['create', '--name', cliName, ...(c.cli ?? c.args), ...defaultsFor(c.args), IMAGE, '/bin/sh'];
      const r = await docker(cliArgs, { host: proxy.socket });
      assert.equal(r.code, 0, `docker ${cliArgs.join(' ')}: ${r.stderr}`);
      created.push(r.stdout.trim());
      assert.equal(proxy.creates.length, before + 1, 'the proxy saw the CLI create request');
      const sent = proxy.creates[before] as Record<string, Json>;

      const body: CreateBody = { Image: IMAGE, Cmd: ['/bin/sh'], ...eff.create };
      created.push(await engine.createContainer(apiName, body));

      // 1. What the engine made of each request.
      const [a, b] = [snapshot(await inspect(cliName)), snapshot(await inspect(apiName))];
      const d = diff(a, b);
      assert.deepEqual(d, [], `docker inspect differs for ${c.args.join(' ')}:\n  ${d.join('\n  ')}`);

      // 2. What was sent, for every field the translation sets (the engine may discard some values on this host).
      const want = eff.create as unknown as Record<string, Json>;
      const got: Record<string, Json> = { ...sent, HostConfig: { ...((sent.HostConfig ?? {}) as Record<string, Json>) } };
      const wantCopy: Record<string, Json> = { ...want, HostConfig: { ...(want.HostConfig as Record<string, Json>) } };
      unordered(got, got.HostConfig as Record<string, Json>);
      unordered(wantCopy, wantCopy.HostConfig as Record<string, Json>);
      const fields = [...Object.keys(want).filter((k) => k !== 'HostConfig'), ...Object.keys(want.HostConfig as object).map((k) => `HostConfig.${k}`)];
      const pick = (o: Record<string, Json>, f: string) => f.split('.').reduce<Json | undefined>((x, k) => (x && typeof x === 'object' && !Array.isArray(x) ? x[k] : undefined), o);
      const sentDiff = fields.flatMap((f) => diff(prune(pick(got, f)), prune(pick(wantCopy, f)), f));
      assert.deepEqual(sentDiff, [], `the create request differs for ${c.args.join(' ')}:\n  ${sentDiff.join('\n  ')}`);
    });
  });
});

/**
 * Flag values that docker refuses on every host, by the CLI itself or by the daemon's fixed rules at create time. A
 * policy using one can never give anybody a container, so it must be refused when it is loaded (with its line), not
 * at each login of the users it applies to. Host-dependent refusals (CPUs or cpusets this machine lacks, a missing
 * bind source, log drivers not installed) are not listed: a policy may be written for other hosts.
 */
const DOCKER_REFUSES: { args: string[]; why: RegExp }[] = [
  { args: ['--label', ' spaced key =v'], why: /contains whitespaces/ },
  { args: ['--log-driver', 'none', '--log-opt', 'max-size=10m'], why: /invalid logging opts for driver none/ },
  { args: ['--log-driver', 'json-file', '--log-opt', 'colour=blue'], why: /unknown log opt 'colour'/ },
  { args: ['--cap-add', 'BOGUS'], why: /unknown capability: "CAP_BOGUS"/ },
  { args: ['--cap-drop', 'bogus'], why: /unknown capability: "CAP_BOGUS"/ },
  { args: ['--security-opt', 'colour=blue'], why: /invalid --security-opt/ },
  { args: ['--memory-swap', '1g'], why: /always set the Memory limit when using Memoryswap/ },
  { args: ['-m', '64m', '--memory-swap', '32m'], why: /memoryswap limit should be larger than memory limit/ },
  { args: ['-m', '64m', '--memory-reservation', '128m'], why: /can not be less than memory reservation/ },
  { args: ['-m', '1k'], why: /Minimum memory limit allowed is 6MB/ },
];

describe('what docker refuses on every host is refused when the policy is loaded', () => {
  DOCKER_REFUSES.forEach((c, i) => {
    test(c.args.join(' '), async () => {
      const r = await docker(['create', '--name', `dtf-cli-${RUN}-refused-${i}`, ...c.args, IMAGE, '/bin/sh']);
      if (r.code === 0) created.push(r.stdout.trim());
      assert.notEqual(r.code, 0, `docker create ${c.args.join(' ')} was expected to fail`);
      assert.match(r.stderr, c.why);
      assert.throws(
        () => translate(confFor({ flag: '', args: c.args })),
        (e: unknown) => e instanceof PolicyError && e.file === CONF && e.line === 1,
        `the policy DOCKERPARAMETERS=${c.args.map(quote).join(' ')} loads, but docker refuses it: ${r.stderr.trim().split('\n')[0]}`,
      );
    });
  });
});
