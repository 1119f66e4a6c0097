/**
 * Zero-config: find Python ≥ 3.10, create a private venv in a per-user cache directory (keyed by the
 * package version), install the wheel shipped in this package, and reuse it afterwards.
 */
import { execFile, spawn } from "node:child_process";
import { existsSync, readFileSync, readdirSync } from "node:fs";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { PythonNotFoundError, SidekickUnavailableError } from "./errors.js";
import { clip, type LoggerLike } from "./log.js";
import { childEnv } from "./process.js";

const PACKAGE_ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const MIN_PYTHON: [number, number] = [3, 10];

/** This package's version (from its package.json). */
export const PACKAGE_VERSION: string = JSON.parse(readFileSync(join(PACKAGE_ROOT, "package.json"), "utf8")).version;

export interface PythonInfo {
  command: string;
  version: [number, number, number];
  executable: string;
  /** Its own pip can install into another interpreter (`pip --python`, pip 22.3+). */
  pipForOthers: boolean;
  /** It has ensurepip, so `python -m venv` can put a pip into the venv. */
  ensurepip: boolean;
}

/** The per-user cache directory of this package. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (process.platform === "win32") {
    return join(env.LOCALAPPDATA ?? join(homedir(), "AppData", "Local"), "plugin-python-sidekick", "Cache");
  }
  if (process.platform === "darwin") return join(homedir(), "Library", "Caches", "plugin-python-sidekick");
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "plugin-python-sidekick");
}

/** The wheel bundled in this package's python/ directory, if any. */
export function bundledWheel(dir = join(PACKAGE_ROOT, "python")): string | undefined {
  if (!existsSync(dir)) return undefined;
  const wheels = readdirSync(dir).filter((f) => /^eliza_sidekick-.*\.whl$/.test(f)).sort();
  return wheels.length ? join(dir, wheels[wheels.length - 1]!) : undefined;
}

const PROBE = [
  "import sys, venv, importlib.util as u",
  "print('%d.%d.%d' % sys.version_info[:3])",
  "print(sys.executable)",
  "print(__import__('pip').__version__ if u.find_spec('pip') else '')",
  "print(1 if u.find_spec('ensurepip') else 0)",
].join("; ");

/** pip 22.3 added `--python`: one pip installs into a venv made `--without-pip`. */
function pipInstallsForOthers(version: string): boolean {
  const [major = 0, minor = 0] = version.split(".").map((part) => Number.parseInt(part, 10));
  return major > 22 || (major === 22 && minor >= 3);
}

function probe(command: string): Promise<PythonInfo | string> {
  return new Promise((resolve) => {
    execFile(command, ["-c", PROBE], { timeout: 15_000, windowsHide: true }, (error, stdout, stderr) => {
      if (error) {
        const missingModule = /No module named '?(venv)/.exec(stderr);
        if (missingModule) return resolve(`${command}: has no '${missingModule[1]}' module (install python3-venv)`);
        return resolve(`${command}: ${(error as NodeJS.ErrnoException).code === "ENOENT" ? "not found" : error.message.split("\n")[0]}`);
      }
      const [version = "", executable = "", pip = "", ensurepip = "0"] = stdout.trim().split(/\r?\n/);
      const parts = version.split(".").map(Number) as [number, number, number];
      if (parts.length !== 3 || !parts.every(Number.isInteger)) {
        return resolve(`${command}: could not read its version from ${JSON.stringify(clip(version, 80))}`);
      }
      if (parts[0]! < MIN_PYTHON[0] || (parts[0] === MIN_PYTHON[0] && parts[1]! < MIN_PYTHON[1])) {
        return resolve(`${command}: Python ${version} is too old`);
      }
      const info = { command, version: parts, executable: executable.trim(), pipForOthers: pipInstallsForOthers(pip.trim()), ensurepip: ensurepip.trim() === "1" };
      if (!info.pipForOthers && !info.ensurepip) return resolve(`${command}: has no 'ensurepip' module and no pip 22.3 or newer (install python3-venv)`);
      resolve(info);
    });
  });
}

/** Finds Python ≥ 3.10: SIDEKICK_PYTHON if given (and only it), else python3, else python. */
export async function findPython(preferred?: string): Promise<PythonInfo> {
  const candidates = preferred ? [preferred] : ["python3", "python"];
  const problems: string[] = [];
  for (const candidate of candidates) {
    const found = await probe(candidate);
    if (typeof found !== "string") return found;
    problems.push(found);
  }
  throw new PythonNotFoundError(
    `No usable Python ${MIN_PYTHON.join(".")}+ found (${problems.join("; ")}). ` +
      "Install Python 3.10 or newer with its venv module (e.g. `apt install python3 python3-venv`, " +
      "`brew install python`, or python.org), or set SIDEKICK_PYTHON to its path, " +
      "or SIDEKICK_COMMAND to a sidekick you installed yourself: `pip install <eliza-sidekick checkout or wheel>`, " +
      "then SIDEKICK_COMMAND=\"sidekick --stdio\" (`pipx run --spec eliza-sidekick sidekick --stdio` once eliza-sidekick is published on PyPI).",
  );
}

function venvPython(venv: string): string {
  return process.platform === "win32" ? join(venv, "Scripts", "python.exe") : join(venv, "bin", "python");
}

const INSTALLED_MARKER = ".sidekick-installed";

/** True when `venv` holds this wheel and its interpreter (a venv whose base Python went away, by an upgrade or a removed pyenv version, has a dangling one). */
async function installed(venv: string, wheelName: string): Promise<boolean> {
  return (await readFile(join(venv, INSTALLED_MARKER), "utf8").catch(() => "")).trim() === wheelName && existsSync(venvPython(venv));
}

/**
 * Runs a command, sending its output lines to the logger at debug level. Like the sidekick, venv and
 * pip (or uv) get the allow-list (plus their own PIP_* and UV_* settings), not the agent's secrets:
 * building a dependency from an sdist runs third-party code.
 */
function run(command: string, args: string[], logger: LoggerLike, timeoutMs: number, extraNames: string[] = []): Promise<void> {
  return new Promise((resolve, reject) => {
    const pipNames = Object.keys(process.env).filter((name) => name.startsWith("PIP_") || name.startsWith("UV_"));
    const env = childEnv({ PIP_DISABLE_PIP_VERSION_CHECK: "1" }, [...pipNames, ...extraNames]);
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], windowsHide: true, env });
    const tail: string[] = [];
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream, crlfDelay: Infinity }).on("line", (line) => {
        tail.push(line);
        if (tail.length > 15) tail.shift();
        logger.debug(`[sidekick bootstrap] ${line}`);
      });
    }
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) resolve();
      else reject(new Error(`${[command, ...args].join(" ")} failed (${signal ?? `exit ${code}`}): ${tail.join("\n")}`));
    });
  });
}

async function pidAlive(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A cross-process lock (an exclusive directory); a lock whose owner died is taken over. */
async function withLock<T>(lockDir: string, logger: LoggerLike, fn: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 15 * 60_000;
  let told = false;
  for (;;) {
    try {
      await mkdir(lockDir);
      await writeFile(join(lockDir, "pid"), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number(await readFile(join(lockDir, "pid"), "utf8").catch(() => "0"));
      const age = Date.now() - (await stat(lockDir).then((s) => s.mtimeMs, () => Date.now()));
      if ((owner && !(await pidAlive(owner))) || (!owner && age > 60_000)) {
        await rm(lockDir, { recursive: true, force: true });
        continue;
      }
      if (Date.now() > deadline) throw new SidekickUnavailableError(`timed out waiting for the bootstrap lock ${lockDir}`);
      if (!told) logger.info("sidekick: another process is installing the Python sidekick, waiting");
      told = true;
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    await rm(lockDir, { recursive: true, force: true });
  }
}

/** True when `uv` answers on PATH (it is used when present, never required). */
function hasUv(): Promise<boolean> {
  return new Promise((resolve) => {
    execFile("uv", ["--version"], { timeout: 5_000, windowsHide: true, env: childEnv({}, []) }, (error) => resolve(!error));
  });
}

/**
 * Creates `venv` and installs `wheel` into it, the quickest way this machine allows: uv when it is on
 * PATH (falling back to pip if it fails, e.g. with an index only pip is configured for); else a venv
 * without pip (no ensurepip: seconds saved) filled by the base interpreter's own pip (`--python`);
 * else the venv's own pip. Bytecode is not compiled up front: Python compiles what it imports, once.
 * The wheel's directory is also searched for the wheels of sdist-only dependencies shipped with it.
 * Returns which installer did it.
 */
async function buildVenv(python: PythonInfo, venv: string, wheel: string, opts: BootstrapOptions): Promise<string> {
  const { logger, envPassthrough } = opts;
  const timeoutMs = opts.installTimeoutMs ?? 600_000;
  const target = venvPython(venv);
  if (await hasUv()) {
    try {
      await run("uv", ["venv", "--quiet", "--python", python.executable, venv], logger, 120_000, envPassthrough);
      logger.info("sidekick: venv created, installing eliza-sidekick and its dependencies with uv");
      await run("uv", ["pip", "install", "--quiet", "--python", target, "--find-links", dirname(wheel), wheel], logger, timeoutMs, envPassthrough);
      return "uv";
    } catch (error) {
      logger.info(`sidekick: uv could not install it (${clip(error instanceof Error ? error.message : String(error), 300)}); trying pip`);
      await rm(venv, { recursive: true, force: true });
    }
  }
  // --find-links: wheels shipped beside ours for dependencies PyPI has only as sdists (scripts/build-wheel.mjs).
  const pipArgs = ["install", "--no-input", "--disable-pip-version-check", "--no-compile", "--find-links", dirname(wheel), wheel];
  if (python.pipForOthers) {
    await run(python.command, ["-m", "venv", "--without-pip", venv], logger, 120_000, envPassthrough);
    logger.info("sidekick: venv created, installing eliza-sidekick and its dependencies with pip");
    await run(python.command, ["-m", "pip", "--python", target, ...pipArgs], logger, timeoutMs, envPassthrough);
    return "pip";
  }
  await run(python.command, ["-m", "venv", venv], logger, 120_000, envPassthrough);
  logger.info("sidekick: venv created, installing eliza-sidekick and its dependencies with pip");
  await run(target, ["-m", "pip", ...pipArgs], logger, timeoutMs, envPassthrough);
  return "the venv's pip";
}

export interface BootstrapOptions {
  python?: string;
  cacheDir?: string;
  /** The wheel to install (default: the one bundled in python/, see `wheelDir`). */
  wheel?: string;
  /** Where to look for the bundled wheel (default: this package's python/ directory). */
  wheelDir?: string;
  logger: LoggerLike;
  /** Time limit of the pip install (default 10 minutes). */
  installTimeoutMs?: number;
  /** Extra environment variable names passed to venv and pip (SIDEKICK_ENV_PASSTHROUGH). */
  envPassthrough?: string[];
}

/**
 * Returns the venv's Python with the sidekick installed, creating the venv on first use.
 * Throws PythonNotFoundError (no Python) or SidekickUnavailableError (no wheel, install failed).
 */
export async function ensureVenv(opts: BootstrapOptions): Promise<string> {
  const { logger } = opts;
  const root = opts.cacheDir ?? defaultCacheDir();
  const wheel = opts.wheel ?? bundledWheel(opts.wheelDir);
  // Warm start: the venv recorded for this interpreter setting is used without probing Python again.
  const record = join(root, `last-venv-${PACKAGE_VERSION}.json`);
  const wanted = { python: opts.python ?? "", wheel: wheel?.split(/[\\/]/).pop() };
  const known = await readFile(record, "utf8").then((text) => JSON.parse(text) as { python?: string; wheel?: string; venv?: string }, () => null);
  if (wheel && known?.venv && known.python === wanted.python && known.wheel === wanted.wheel && (await installed(known.venv, wanted.wheel!))) {
    return venvPython(known.venv);
  }
  const python = await findPython(opts.python);
  if (!wheel) {
    throw new SidekickUnavailableError(
      "This copy of plugin-python-sidekick ships no Python wheel (a development checkout?). " +
        "Run `npm pack` to build one, or set SIDEKICK_COMMAND (e.g. `sidekick --stdio`).",
    );
  }
  const venv = join(root, `venv-${PACKAGE_VERSION}-py${python.version[0]}.${python.version[1]}`);
  const wheelName = wanted.wheel!;
  const remember = async () => {
    await writeFile(record, JSON.stringify({ ...wanted, venv })).catch(() => {});
    return venvPython(venv);
  };
  if (await installed(venv, wheelName)) return remember();

  await mkdir(root, { recursive: true });
  return withLock(`${venv}.lock`, logger, async () => {
    if (await installed(venv, wheelName)) return remember();
    const started = Date.now();
    logger.info(`sidekick: first start, installing the Python sidekick into ${venv} (Python ${python.version.join(".")}); this takes up to a minute`);
    await rm(venv, { recursive: true, force: true });
    let how: string;
    try {
      how = await buildVenv(python, venv, wheel, opts);
    } catch (error) {
      await rm(venv, { recursive: true, force: true });
      throw new SidekickUnavailableError(
        `Installing the Python sidekick failed: ${error instanceof Error ? error.message : String(error)}. ` +
          "Check network access to PyPI (or PIP_INDEX_URL), or set SIDEKICK_COMMAND.",
        { cause: error },
      );
    }
    await writeFile(join(venv, INSTALLED_MARKER), wheelName);
    logger.info(`sidekick: Python sidekick installed in ${((Date.now() - started) / 1000).toFixed(1)} s (with ${how})`);
    return remember();
  });
}
