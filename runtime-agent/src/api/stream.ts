// Docker's stream framing: on a non-TTY attach or logs stream, each chunk of output is sent
// after an 8-byte header: the stream (0 stdin, 1 stdout, 2 stderr), three zero bytes, and the
// length as a big-endian uint32.

export type StreamId = 0 | 1 | 2;

export function frame(stream: StreamId, data: Uint8Array): Buffer {
  const header = Buffer.alloc(8);
  header[0] = stream;
  header.writeUInt32BE(data.length, 4);
  return Buffer.concat([header, data]);
}

/** Splits a multiplexed stream back into chunks (for clients and tests). */
export class Demultiplexer {
  private pending = Buffer.alloc(0);

  push(data: Uint8Array): { stream: StreamId; data: Buffer }[] {
    this.pending = Buffer.concat([this.pending, data]);
    const out: { stream: StreamId; data: Buffer }[] = [];
    while (this.pending.length >= 8) {
      const length = this.pending.readUInt32BE(4);
      if (this.pending.length < 8 + length) break;
      out.push({ stream: this.pending[0] as StreamId, data: this.pending.subarray(8, 8 + length) });
      this.pending = this.pending.subarray(8 + length);
    }
    return out;
  }
}
