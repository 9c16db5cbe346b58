// Runs a benchmark's main, always followed by its cleanup: on success, on error, and on SIGINT/SIGTERM, so that an
// interrupted run leaves no users or containers behind.
export async function runBench(name: string, main: () => Promise<void>, cleanup: () => Promise<void>): Promise<void> {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.on(sig, () => {
      console.error(`${name}: ${sig}, cleaning up`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    await main();
  } catch (e) {
    console.error(`${name}: ${(e as Error).stack ?? e}`);
    process.exitCode = 1;
  } finally {
    await cleanup();
  }
}
