// needs: clang
// The relay's parsers under libFuzzer (with AddressSanitizer and UndefinedBehaviorSanitizer): what doshd sends, the
// engine's answer to the exec start, the multiplexed stream, the settings file, and the recording's JSON escaping of terminal output. Each target starts from the
// seeds in shell/fuzz/corpus/ and runs for DOSH_FUZZ_SECONDS (default 20); a crash, a sanitizer report or a failed
// assertion in a target fails the test, naming the input libFuzzer saved. Needs clang-14 with its fuzzer runtime
// (the test command's `clang` step installs clang-14 and libclang-rt-14-dev).
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const REPO = path.resolve(import.meta.dirname, '../..');
const SECONDS = Number(process.env.DOSH_FUZZ_SECONDS ?? 20);
const TARGETS = ['wire', 'http', 'demux', 'conf', 'jsonesc'];
const out = fs.mkdtempSync(path.join(os.tmpdir(), 'dosh-fuzz-'));

before(() => {
  const r = spawnSync('make', ['-s', '-C', path.join(REPO, 'shell'), `OUT=${out}`, 'fuzz'], { encoding: 'utf8' });
  assert.equal(r.status, 0, `building the fuzzers failed (is clang-14 installed?): ${r.stdout}${r.stderr}`);
});

for (const t of TARGETS) {
  test(`fuzz_${t}: ${SECONDS} s of libFuzzer without a crash or a sanitizer report`, { timeout: (SECONDS + 120) * 1000 }, () => {
    // A working copy of the seeds: libFuzzer adds what it finds; the committed corpus stays as it is.
    const corpus = path.join(out, `corpus-${t}`);
    fs.cpSync(path.join(REPO, 'shell/fuzz/corpus', t), corpus, { recursive: true });
    const r = spawnSync(path.join(out, `fuzz_${t}`), [`-max_total_time=${SECONDS}`, '-rss_limit_mb=1024', `-artifact_prefix=${out}/`, '-print_final_stats=1', corpus], { encoding: 'utf8', maxBuffer: 1 << 26 });
    const tail = r.stderr.split('\n').slice(-25).join('\n');
    assert.equal(r.status, 0, `fuzz_${t} failed; artifacts in ${out}:\n${tail}`);
    const runs = Number(/stat::number_of_executed_units:\s*(\d+)/.exec(r.stderr)?.[1] ?? 0);
    assert.ok(runs > 1000, `fuzz_${t} ran only ${runs} inputs:\n${tail}`);
  });
}
