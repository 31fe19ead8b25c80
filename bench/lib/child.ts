/**
 * Child processes. Every contender runs in its own `node` process, started the same way:
 *
 * - `compiled`: bench/, lib/ and migrations/ are transpiled once per benchmark run (TypeScript's
 *   transpileModule, the same settings as tsconfig.json) into a temporary directory whose
 *   node_modules is a symlink to the repository's; children then start as plain `node file.js`,
 *   as a compiled app would in production.
 * - `ts-node`: `node -r ts-node/register/transpile-only file.ts`, as the project's CLI runs, on a copy
 *   of the TypeScript sources taken at the same moment (so both modes measure the same code even
 *   while the working tree changes).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'child_process';
import fs from 'fs';
import path from 'path';
import ts from 'typescript';
import { RESULT_PREFIX } from '../children/protocol';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

export type ChildMode = 'compiled' | 'ts-node';

export interface ChildRun<T> {
  /** From just before spawn() to the child's exit, in ms. */
  readonly wallMs: number;
  readonly result: T;
  readonly stdout: string;
  readonly stderr: string;
}

const TRANSPILED_DIRS = ['lib', 'migrations', 'bench'];

/** Copies the TypeScript sources (and tsconfig.json) into `outDir`, for the ts-node mode. */
export function copyRepoSources(outDir: string): void {
  for (const dir of TRANSPILED_DIRS) {
    const from = path.join(REPO_ROOT, dir);
    if (fs.existsSync(from)) fs.cpSync(from, path.join(outDir, dir), { recursive: true, filter: (src) => !src.endsWith('.md') });
  }
  fs.copyFileSync(path.join(REPO_ROOT, 'tsconfig.json'), path.join(outDir, 'tsconfig.json'));
  linkNodeModules(outDir);
}

function linkNodeModules(outDir: string): void {
  const link = path.join(outDir, 'node_modules');
  if (!fs.existsSync(link)) fs.symlinkSync(path.join(REPO_ROOT, 'node_modules'), link, 'dir');
}

/** Transpiles the repository's TypeScript into `outDir` (once per run; well under a second). */
export function transpileRepo(outDir: string): void {
  const options: ts.CompilerOptions = {
    module: ts.ModuleKind.CommonJS,
    target: ts.ScriptTarget.ES2022,
    esModuleInterop: true,
    resolveJsonModule: true,
  };
  const walk = (rel: string): void => {
    const abs = path.join(REPO_ROOT, rel);
    for (const entry of fs.readdirSync(abs, { withFileTypes: true })) {
      const childRel = path.join(rel, entry.name);
      if (entry.isDirectory()) walk(childRel);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) {
        const out = ts.transpileModule(fs.readFileSync(path.join(REPO_ROOT, childRel), 'utf8'), { compilerOptions: options, fileName: childRel });
        const target = path.join(outDir, childRel.replace(/\.ts$/, '.js'));
        fs.mkdirSync(path.dirname(target), { recursive: true });
        fs.writeFileSync(target, out.outputText);
      } else if (entry.name.endsWith('.json')) {
        fs.mkdirSync(path.join(outDir, rel), { recursive: true });
        fs.copyFileSync(path.join(REPO_ROOT, childRel), path.join(outDir, childRel));
      }
    }
  };
  for (const dir of TRANSPILED_DIRS) if (fs.existsSync(path.join(REPO_ROOT, dir))) walk(dir);
  linkNodeModules(outDir);
}

export class Children {
  private constructor(
    readonly mode: ChildMode,
    /** transpileRepo()'s output (compiled) or copyRepoSources()'s (ts-node). */
    private readonly root: string,
  ) {}

  static of(mode: ChildMode, root: string): Children {
    return new Children(mode, root);
  }

  /** node arguments that start `script` (repository-relative, without extension). */
  argv(script: string): string[] {
    if (this.mode === 'compiled') return [path.join(this.root, `${script}.js`)];
    return ['-r', 'ts-node/register/transpile-only', path.join(this.root, `${script}.ts`)];
  }

  /** Starts `script` with `payload`; stdin stays open (the race uses it for its start signal). */
  spawn(script: string, payload: unknown, env: NodeJS.ProcessEnv = {}): ChildProcessWithoutNullStreams {
    return spawn(process.execPath, [...this.argv(script), JSON.stringify(payload)], {
      cwd: this.root, // ts-node reads tsconfig.json from here
      env: { ...process.env, ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
  }

  /** Runs `script` to completion and returns its result line; rejects when it fails. */
  run<T>(script: string, payload: unknown, env: NodeJS.ProcessEnv = {}): Promise<ChildRun<T>> {
    return new Promise((resolve, reject) => {
      const started = performance.now();
      const child = this.spawn(script, payload, env);
      child.stdin.end();
      let exitedAt = 0;
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
      child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
      child.on('error', reject);
      child.on('exit', () => (exitedAt = performance.now()));
      child.on('close', (code, signal) => {
        const wallMs = (exitedAt || performance.now()) - started;
        if (code !== 0) {
          reject(new Error(`${script} exited with ${signal ?? code}: ${stderr.trim().split('\n').slice(-8).join('\n')}`));
          return;
        }
        try {
          resolve({ wallMs, result: parseResult<T>(stdout, script), stdout, stderr });
        } catch (err) {
          reject(err);
        }
      });
    });
  }
}

export function parseResult<T>(stdout: string, script: string): T {
  const line = stdout.split('\n').reverse().find((l) => l.startsWith(RESULT_PREFIX));
  if (!line) throw new Error(`${script} printed no result line; stdout: ${stdout.slice(-500)}`);
  return JSON.parse(line.slice(RESULT_PREFIX.length)) as T;
}
