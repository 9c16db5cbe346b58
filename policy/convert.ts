// dosh.conf → dosh.yaml with the same effective policy for every user: each section becomes
// one or more rules (split wherever dosh.yaml's fixed order inside a rule would reorder
// settings), CONF files are inlined in reading order, and flags keep their exact words.
import * as path from 'node:path';
import { stringify } from 'yaml';
import { fail } from './errors.ts';
import { templateText } from './template.ts';
import type { Block, CompiledPolicy, Setting } from './types.ts';
import type { YamlRule } from '../api/dosh-yaml.ts';

const ORDER: Setting['key'][] = ['inherit', 'image', 'command', 'prefixName', 'logFile', 'scriptsFolder', 'runScripts', 'debug', 'verbose', 'runCommands', 'networkPerUser', 'allowOtherShell', 'forwardAgent', 'recordSessions', 'idleTimeoutSeconds', 'maxSessionSeconds', 'maxSessionsPerUser', 'backend', 'pod', 'dockerParameters'];

export function convertLegacyToYaml(legacy: CompiledPolicy): string {
  if (legacy.format !== 'legacy') fail({ file: legacy.mainFile, line: 1 }, 'this policy is already a dosh.yaml');
  const rules: YamlRule[] = [];
  for (const file of readingOrder(legacy)) {
    for (const b of legacy.units[file] ?? []) rules.push(...blockRules(b));
  }
  const header = `# dosh.yaml converted from ${legacy.mainFile}${legacy.files.length > 1 ? ' and its CONF files' : ''}.\n`;
  return header + stringify({ version: 1, rules }, { lineWidth: 0 });
}

/** The files in the order every user reads them; only possible when no CONF depends on the user. */
function readingOrder(p: CompiledPolicy): string[] {
  for (const f of p.files) {
    for (const b of p.units[f] ?? []) {
      const c = b.settings.find((s) => s.key === 'conf');
      if (c && b.match.kind !== 'all') {
        fail(c.origin, `cannot convert: CONF inside [${b.section}] reads different files for different users, and dosh.yaml has no includes. Move the included settings into sections and convert again`);
      }
    }
  }
  const confAfter = (f: string, conf: string) => {
    for (const b of p.units[f] ?? []) for (const s of b.settings) if (s.key === 'conf') conf = s.include;
    return conf;
  };
  const order = [p.mainFile];
  let conf = confAfter(p.mainFile, '');
  let read = '';
  while (conf !== '' && conf !== read) {
    read = conf;
    for (const f of p.includes[read] ?? []) {
      order.push(f);
      conf = confAfter(f, conf);
    }
  }
  return order;
}

function blockRules(b: Block): YamlRule[] {
  const rules: YamlRule[] = [];
  let rule: YamlRule | null = null;
  let last = -1;
  for (const s of b.settings) {
    if (s.key === 'conf') continue;
    const idx = ORDER.indexOf(s.key);
    if (!rule || idx <= last) {
      rule = { name: `${b.section} (${path.basename(b.file)}:${s.origin.line})` };
      if (b.match.kind === 'user') rule.match = { users: [b.match.name] };
      if (b.match.kind === 'group') rule.match = { groups: [b.match.name] };
      rules.push(rule);
    }
    last = idx;
    setField(rule, s);
  }
  return rules;
}

function setField(r: YamlRule, s: Setting): void {
  switch (s.key) {
    case 'image':
    case 'prefixName':
    case 'logFile':
      r[s.key] = templateText(s.tpl, true);
      break;
    case 'scriptsFolder':
      (r.hooks ??= {}).scriptsFolder = templateText(s.tpl, true);
      break;
    case 'runScripts':
      (r.hooks ??= {}).runScripts = s.bool;
      break;
    case 'command':
      r.command = s.words.map((w) => templateText(w.parts, true));
      break;
    case 'inherit':
    case 'debug':
    case 'verbose':
    case 'runCommands':
    case 'networkPerUser':
    case 'allowOtherShell':
    case 'forwardAgent':
    case 'recordSessions':
      r[s.key] = s.bool;
      break;
    case 'idleTimeoutSeconds':
      r.idleTimeout = s.num;
      break;
    case 'maxSessionSeconds':
    case 'maxSessionsPerUser':
      r[s.key] = s.num;
      break;
    case 'dockerParameters':
      r.dockerFlags = s.flags.map((o) => {
        if (o.value === null) return o.written;
        // --env-file names are relative to the dosh.conf that named them.
        const v = o.flag === 'env-file' ? path.resolve(path.dirname(o.origin.file), templateText(o.value)).replace(/\$/g, '$$$$') : templateText(o.value, true);
        return `${o.written}=${v}`;
      });
      if (s.flags.some((o) => o.unsafeOk)) r.allowUnsafeDockerParametersIUnderstandTheRisk = true;
      break;
    case 'backend':
      r.backend = s.backend;
      break;
    case 'pod':
      (r.pod ??= {})[s.field] = s.value as never;
      break;
    case 'conf':
      break;
  }
}
