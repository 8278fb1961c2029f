import { open, readFile, rm } from 'node:fs/promises';
import { HaulClientError, ioError } from './errors.ts';

/**
 * `<out>.part.lock`: one writer per output. It holds the writer's pid; a lock whose process is
 * gone (killed, crashed) is taken over, so a SIGKILL never blocks the next run.
 */
export async function acquireLock(path: string): Promise<() => Promise<void>> {
  for (let tries = 0; tries < 3; tries++) {
    try {
      const fd = await open(path, 'wx');
      await fd.writeFile(String(process.pid));
      await fd.close();
      return async () => {
        await rm(path, { force: true });
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw ioError(e, `cannot create ${path}`);
      const pid = Number((await readFile(path, 'utf8').catch(() => '')).trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid))
        throw new HaulClientError('IO', `another haul get (pid ${pid}) is writing this output (${path})`);
      await rm(path, { force: true });
    }
  }
  throw new HaulClientError('IO', `cannot take the lock ${path}`);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
