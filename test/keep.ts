// The kept-state store on its own (kernel/keep*.ts): records come back as they were put, a put
// is whole or absent, a flipped bit or a torn record is found, a segment mostly of dead records
// is compacted into a new one handed to the core first, and a process domain's store ships
// whole puts at its sync points.

import t from 'tap';
import { Segment, entryDamage, encodeEntry, entryKey, entryRemoves, entryValue } from '../kernel/keep.js';
import { SegmentKeep, ShippedKeep } from '../kernel/keep-stores.js';

const valuesOf = (s: Segment) => {
  const { live, damage } = s.scan();
  return { damage, values: Object.fromEntries([...live].map(([k, x]) => [k, entryValue(s.entry(x))])) };
};

t.test('entries: round trip, and any flipped bit is found', async (t) => {
  const e = encodeEntry('k/1', { a: 1, bytes: new Uint8Array([9, 8, 7]) });
  t.equal(entryDamage(e), null);
  t.equal(entryKey(e), 'k/1');
  t.same(entryValue(e), { a: 1, bytes: new Uint8Array([9, 8, 7]) });
  for (let i = 0; i < e.length; i++) {
    const bad = e.slice();
    bad[i] ^= 0x01;
    t.not(entryDamage(bad), null, `a bit flipped in byte ${i} is found`);
  }
});

t.test('a segment: the latest value per key, removals, damage and torn records', async (t) => {
  const s = Segment.create(64);
  s.append([encodeEntry('a', 1), encodeEntry('b', 'two')]);
  s.append([encodeEntry('a', 3), encodeEntry('b', undefined), encodeEntry('c', new Uint8Array(100_000).fill(5))]);
  const { damage, values } = valuesOf(s);
  t.equal(damage, undefined);
  t.same(Object.keys(values).sort(), ['a', 'c']);
  t.equal(values.a, 3);
  t.equal((values.c as Uint8Array).length, 100_000, 'grown past its first size');
  // Bytes after the published end (a put cut short by a crash) are not read.
  const end = s.end;
  s.buffer.grow(end + 64);
  new Uint8Array(s.buffer).fill(0xff, end, end + 64);
  t.same(valuesOf(s).values.a, 3, 'what lies past the end is ignored');
  const bytes = new Uint8Array(s.buffer);
  bytes[end - 3] ^= 0x40;
  t.match(valuesOf(s).damage, /checksum/, 'a flipped bit in a record drops the segment');
  t.same(valuesOf(s).values, {}, 'and nothing of it is served');
});

t.test('SegmentKeep: compaction hands the core a new segment before writing into it', async (t) => {
  const adopted: SharedArrayBuffer[] = [];
  const { keep, kept } = SegmentKeep.open(Segment.create().buffer, (s) => adopted.push(s));
  t.equal(kept.size, 0);
  const page = new Uint8Array(64 * 1024);
  for (let i = 0; i < 64 && adopted.length === 0; i++) keep.put([['page', page.fill(i)], ['small', i]]);
  t.equal(adopted.length, 1, 'compacted once its dead records passed 1 MiB');
  keep.put([['after', 'compaction']]);
  const back = SegmentKeep.open(adopted[0], () => {}).kept;
  t.same([...back.keys()].sort(), ['after', 'page', 'small'], 'the new segment holds the live records and later puts');
  t.equal((back.get('page') as Uint8Array)[0], back.get('small'), 'the latest of each');
  t.ok(new Segment(adopted[0]).used < 2 * 64 * 1024 + 1024, 'and little more');
});

t.test('ShippedKeep: whole puts, shipped at commit', async (t) => {
  const shipped: string[][] = [];
  const keep = new ShippedKeep(async (entries) => {
    shipped.push(entries.map((e) => `${entryKey(e)}=${entryRemoves(e) ? 'removed' : JSON.stringify(entryValue(e))}`));
  });
  keep.put([['a', 1], ['b', 2]]);
  keep.put([['a', 3]]);
  await keep.commit();
  t.same(shipped, [['b=2', 'a=3']], 'one shipment, the latest value per key');
  await keep.commit();
  t.equal(shipped.length, 1, 'nothing new: nothing shipped');
  keep.put([['c', undefined]]);
  await keep.commit();
  t.same(shipped[1], ['c=removed'], 'a removal is shipped too');
  const failing = new ShippedKeep(() => Promise.reject(new Error('the core is gone')));
  failing.put([['x', 1]]);
  await t.rejects(failing.commit(), /the core is gone/, 'a commit that could not ship fails');
});
