/**
 * A socat pseudo-terminal pair, for tests that put a real serial link between a board and the bench
 * (socat is a test dependency only; `npm start` never needs it).
 *
 *   const pair = await startSocatPair();   // pair.a, pair.b: /dev/pts/N paths, bytes cross between them
 *   …
 *   await pair.stop();
 */
import { spawn } from 'node:child_process';

export interface SocatPair {
  a: string;
  b: string;
  pid: number;
  stop(): Promise<void>;
}

export function startSocatPair(timeoutMs = 5000): Promise<SocatPair> {
  return new Promise((resolve, reject) => {
    const child = spawn('socat', ['-d', '-d', 'pty,raw,echo=0', 'pty,raw,echo=0'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    const paths: string[] = [];
    const exited = new Promise<void>((done) => child.once('exit', () => done()));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    };
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`socat did not report two pseudo-terminals within ${timeoutMs} ms: ${stderr}`));
    }, timeoutMs);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`cannot start socat (install it: apt-get install socat): ${err.message}`));
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      stderr += text;
      for (const match of text.matchAll(/PTY is (\S+)/g)) paths.push(match[1]);
      if (paths.length === 2 && /starting data transfer loop/.test(stderr)) {
        clearTimeout(timer);
        resolve({ a: paths[0], b: paths[1], pid: child.pid ?? -1, stop });
      }
    });
  });
}
