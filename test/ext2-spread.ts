// The parts of spreading a truncate over several jbd2 transactions that need no image:
// - spread.ts's cutFor: where one step may stop, counting a bitmap per group and a descriptor
//   block per descriptor block its freed blocks lie in, map blocks with the data they go with;
// - orphans.ts's OrphanList: restore() gives back the list as the failed op found it, whether
//   the op changed it or not (the list is copied at its first change, not at every op).

import t from 'tap';
import { Inode, type InodeTable } from '../servers/ext2/inode.js';
import { OrphanList } from '../servers/ext2/orphans.js';
import { cutFor } from '../servers/ext2/spread.js';

/** 1 KiB blocks, 256 a group, 32-byte descriptors: 32 to a descriptor block. */
const layout = { blocksPerGroup: 256, firstDataBlock: 1, descriptorsPerBlock: 32 };
/** The first block of group g. */
const group = (g: number) => 1 + g * 256;

t.test('cutFor: a run over ten groups, from the end, as many groups as the budget holds', async (t) => {
  const runs = [{ lblk: 0, start: group(0), count: 10 * 256 }];
  t.equal(cutFor(runs, 0, 20, layout), 0, 'all of it fits 11 blocks (10 bitmaps, 1 descriptor block): the cut is keep');
  t.equal(cutFor(runs, 0, 11, layout), 0, 'exactly');
  t.equal(cutFor(runs, 0, 10, layout), 256, 'one block short: group 0 stays for the next step');
  t.equal(cutFor(runs, 0, 5, layout), 6 * 256, '5 blocks: the last four groups and their descriptor block');
  t.equal(cutFor(runs, 0, 0, layout), 9 * 256, 'no room at all: still the last group, so that each step frees something');
  const unaligned = [{ lblk: 7, start: group(0) + 100, count: 256 }];
  t.equal(cutFor(unaligned, 7, 2, layout), 7 + 156, 'a run not aligned to its groups is cut where it crosses into the next');
  t.equal(cutFor([], 5, 0, layout), 5, 'nothing to free: keep');
});

t.test('cutFor: descriptor blocks count once each', async (t) => {
  const runs = [{ lblk: 0, start: group(31), count: 512 }];
  t.equal(cutFor(runs, 0, 3, layout), 256, 'groups 31 and 32 lie in two descriptor blocks: 4 blocks, so group 32 alone goes');
  t.equal(cutFor(runs, 0, 4, layout), 0, 'with room for 4, both');
  const same = [{ lblk: 0, start: group(1), count: 512 }];
  t.equal(cutFor(same, 0, 3, layout), 0, 'groups 1 and 2 share one: 3 blocks');
});

t.test('cutFor: a map block goes with the data below it', async (t) => {
  const runs = [
    { lblk: 100, start: group(0) + 50, count: 1 },
    { lblk: 100, start: group(5), count: 1 }, // the indirect block or tree node of block 100 on
    { lblk: 200, start: group(3), count: 1 },
  ];
  t.equal(cutFor(runs, 0, 2, layout), 200, 'block 200 alone fits 2 blocks; block 100 and its map block need two bitmaps more');
  t.equal(cutFor(runs, 0, 4, layout), 0, 'with 4: everything (3 bitmaps, 1 descriptor block)');
  t.equal(cutFor(runs, 0, 3, layout), 200, 'with 3: a cut between the data and its map block is no place to stop');
});

/** Inodes in use, as an InodeTable serves them to the orphan list. */
function table(inos: number[]): { table: InodeTable; nodes: Map<number, Inode> } {
  const nodes = new Map(inos.map((ino) => {
    const n = new Inode(ino);
    n.mode = 0o100644;
    return [ino, n] as const;
  }));
  return { table: { get: async (ino: number) => nodes.get(ino)! } as unknown as InodeTable, nodes };
}

t.test('OrphanList: restore() after ops that changed the list or not', async (t) => {
  const { table: inodes, nodes } = table([12, 13, 14]);
  const list = await OrphanList.load(0, inodes, { firstIno: 11, inodesCount: 100 });
  list.begin();
  list.add(nodes.get(12)!);
  t.same(list.inodes, [12], 'an op adds 12');
  list.begin();
  list.add(nodes.get(13)!);
  list.add(nodes.get(14)!);
  t.same(list.inodes, [14, 13, 12], 'the next adds 13 and 14');
  list.restore();
  t.same(list.inodes, [12], 'it fails: the list is as that op found it');
  list.begin();
  list.restore();
  t.same(list.inodes, [12], 'an op that changed nothing fails: the list is unchanged');
  list.begin();
  await list.remove(nodes.get(12)!, inodes);
  t.same(list.inodes, [], 'an op removes 12');
  list.restore();
  t.same(list.inodes, [12], 'it fails: 12 is back');
  list.begin();
  list.add(nodes.get(13)!);
  list.begin();
  t.same(list.inodes, [13, 12], 'an op that succeeded keeps its change');
  list.restore();
  t.same(list.inodes, [13, 12], 'and a later op that changed nothing restores nothing');
});
