/** Runs `fn` again (up to `attempts` times in all, with a short growing pause) while it fails with an error `retryable` accepts. */
export async function retryWhile<R>(retryable: (err: unknown) => boolean, fn: () => Promise<R>, attempts = 10): Promise<R> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !retryable(err)) throw err;
      await new Promise((resolve) => setTimeout(resolve, Math.min(20 * 2 ** attempt, 1000) * (0.5 + Math.random() / 2)));
    }
  }
}
