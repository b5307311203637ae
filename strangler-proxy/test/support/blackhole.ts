import { spawn } from 'node:child_process';

// A listener whose accept queue is full, so a new connection's SYN is dropped and connect() hangs:
// the only way on loopback to make a real "timeout before a byte was sent". Node accepts eagerly,
// so Python (on the machine image) holds the socket.
const SCRIPT = `
import socket, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(0)
fill = []
for _ in range(3):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(s.getsockname())
    except BlockingIOError: pass
    fill.append(c)
print(s.getsockname()[1], flush=True)
time.sleep(3600)
`;

export async function startBlackhole(): Promise<{ url: string; close(): void }> {
  const child = spawn('python3', ['-c', SCRIPT], { stdio: ['ignore', 'pipe', 'inherit'] });
  const port = await new Promise<string>((resolve, reject) => {
    child.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`blackhole exited with ${code}`)));
  });
  return { url: `http://127.0.0.1:${port}`, close: () => child.kill('SIGKILL') };
}
