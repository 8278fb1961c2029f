import { type ChildProcess, spawn } from 'node:child_process';

const HAUL = new URL('../../bin/haul.js', import.meta.url).pathname;

/** The environment without any haul settings of the developer's shell. */
export function cleanEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env))
    if (v !== undefined && !/^(HAUL_|DATABASE_URL|REDIS_URL|S3_|AWS_|PORT$|HOST$)/.test(k)) env[k] = v;
  return env;
}

export interface HaulProcess extends AsyncDisposable {
  child: ChildProcess;
  url: string;
  output(): string;
}

/** Starts `haul <command> --port 0 …` as a real process and waits for its "listening on" line. */
export async function startHaulProcess(args: string[], env: Record<string, string>): Promise<HaulProcess> {
  const child = spawn('node', [HAUL, ...args, '--port', '0'], {
    env: { ...cleanEnv(), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (b: Buffer) => {
      out += b.toString();
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`haul ${args[0]} exited ${code}: ${out}`)));
    setTimeout(() => reject(new Error(`haul ${args[0]} did not start: ${out}`)), 30_000).unref();
  });
  return {
    child,
    url,
    output: () => out,
    async [Symbol.asyncDispose]() {
      if (child.exitCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}
