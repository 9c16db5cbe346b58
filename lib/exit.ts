// Entry points exit through here: process.exit() would drop output still queued for a pipe (stdout to a pipe is
// asynchronous), cutting `doshctl get sessions -o json | jq` short.
export function exitAfterFlush(code: number): void {
  let pending = 2;
  const done = () => {
    if (--pending === 0) process.exit(code);
  };
  // A reader that never drains the pipe must not keep us alive forever.
  setTimeout(() => process.exit(code), 5000).unref();
  process.stdout.write('', done);
  process.stderr.write('', done);
}
