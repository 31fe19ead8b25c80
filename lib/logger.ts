import type { Logger } from './types';

const PREFIX = '[migrate]';

/** Default logger: one concise line per event on the console. */
export const consoleLogger: Logger = {
  info: (message) => console.log(`${PREFIX} ${message}`),
  warn: (message) => console.warn(`${PREFIX} warning: ${message}`),
};

/** A logger that prints nothing (tests, or callers that print the report themselves). */
export const silentLogger: Logger = { info: () => undefined, warn: () => undefined };
