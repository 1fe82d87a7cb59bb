/**
 * The local storage servers alone, in a process of their own, so a test can SIGKILL them the
 * moment an answer arrives: `node test/helpers/storage-child.ts <data-dir> <bucket>` prints one
 * line of JSON (`{s3Endpoint, pid}`) once listening and runs until killed or its stdin closes.
 */
import { startLocalStorage } from '../../local/runtime/storage.ts';

const [dataDir, bucket] = process.argv.slice(2);
if (!dataDir || !bucket) throw new Error('usage: storage-child.ts <data-dir> <bucket>');
const storage = await startLocalStorage({
  dataDir,
  template: { Resources: { [bucket]: { Type: 'AWS::S3::Bucket' } } },
});
process.stdout.write(`${JSON.stringify({ s3Endpoint: storage.s3Endpoint, pid: process.pid })}\n`);
process.stdin.resume();
process.stdin.on('end', async () => {
  await storage.close();
  process.exit(0);
});
