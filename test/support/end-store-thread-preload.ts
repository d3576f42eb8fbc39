/**
 * Preloaded (`node --import`) by test/http/lean-start.test.ts into the
 * server: SIGUSR2 ends the embedded store's worker thread from outside, as an
 * uncaught error inside it would, so the test can see what the process does
 * when its store dies.
 */
process.on('worker', (worker) => {
  process.once('SIGUSR2', () => void worker.terminate());
});
