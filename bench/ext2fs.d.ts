// The part of the npm package ext2fs (libext2fs in WebAssembly; no types of its own) that the
// bench's peer uses.

declare module 'ext2fs' {
  /** Where the file system's bytes live; calls resolve when the I/O is done. */
  export interface Disk {
    read(buffer: Buffer, bufferOffset: number, length: number, fileOffset: number): Promise<unknown>;
    write(buffer: Buffer, bufferOffset: number, length: number, fileOffset: number): Promise<unknown>;
    discard(offset: number, length: number): Promise<void>;
    flush(): Promise<void>;
  }
  export interface FileHandle {
    read(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesRead: number }>;
    write(buffer: Buffer, offset: number, length: number, position: number): Promise<{ bytesWritten: number }>;
    close(): Promise<void>;
  }
  export interface Ext2Fs {
    promises: {
      open(path: string, flags: string, mode?: number): Promise<FileHandle>;
      stat(path: string): Promise<{ size: number }>;
      mkdir(path: string, mode?: number): Promise<void>;
    };
  }
  export function mount(disk: Disk, offset?: number): Promise<Ext2Fs>;
  export function umount(fs: Ext2Fs): Promise<void>;
}
