// The floor of the dynamic benchmark: a length-prefixed echo over a Unix socket.
import net from 'node:net';

const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  let buffered: Buffer = Buffer.alloc(0);
  socket.on('data', (chunk: Buffer) => {
    buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32LE(0)) {
      const size = 4 + buffered.readUInt32LE(0);
      socket.write(buffered.subarray(0, size));
      buffered = buffered.subarray(size);
    }
  });
});
server.listen(process.argv[2], () => process.send?.('ready'));
process.on('disconnect', () => process.exit(0));
