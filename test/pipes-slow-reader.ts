// A blocking write to a pipe or FIFO with a live, slow reader writes all it is given, however
// long the reader takes: vfs ends each wait after a slice (servers/vfs/pipes.ts) with a short
// count, and Proc.write makes the call again for the rest, as a blocking write(2) on Linux
// returns nbyte. writeFile, built on it, loses nothing either.

import t from 'tap';
import { O_RDONLY, boot } from '../kernel/index.js';

const LEN = 300_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('writeFile to a FIFO whose reader starts reading after 2.5 s', async (t) => {
  const k = await boot({ policy: 'monolithic' });
  t.teardown(() => k.halt());
  const writer = k.init;
  const reader = await k.spawn();
  await writer.mkfifo('/tmp/fifo');
  const written = writer.writeFile('/tmp/fifo', new Uint8Array(LEN).fill(65));
  const fd = await reader.open('/tmp/fifo', O_RDONLY);
  await sleep(2500);
  let got = 0;
  for (let i = 0; i < 1000; i++) {
    const chunk = await reader.read(fd, 65536);
    if (chunk.length === 0) break;
    got += chunk.length;
  }
  await written;
  t.equal(got, LEN, 'the reader got every byte writeFile was given');
});

t.test('one blocking write() to a pipe with a live, slow reader', async (t) => {
  const k = await boot({ policy: 'monolithic' });
  t.teardown(() => k.halt());
  const p = k.init;
  const [rd, wr] = await p.pipe();
  const n = p.write(wr, new Uint8Array(LEN));
  const closed = n.then(() => p.close(wr)); // then the reader sees EOF
  await sleep(2500);
  let got = 0;
  for (let i = 0; i < 1000; i++) {
    const chunk = await p.read(rd, 65536);
    if (chunk.length === 0) break;
    got += chunk.length;
  }
  await closed;
  t.equal(got, LEN, 'the reader got every byte');
  t.equal(await n, LEN, 'write returns nbyte, as a blocking pipe write on Linux');
});
