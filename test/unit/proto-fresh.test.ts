import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

// The generated TypeScript must match proto/: regenerate into a temporary folder and compare.
describe('generated protocol types', () => {
  it('are fresh (run `npm run proto:gen` after editing proto/)', () => {
    const root = path.resolve(__dirname, '../..');
    const out = fs.mkdtempSync(path.join(os.tmpdir(), 'jr-proto-'));
    try {
      execFileSync(process.execPath, [path.join(root, 'scripts/proto-gen.js'), '--out', out], {
        cwd: root,
        stdio: 'pipe',
      });
      const committed = path.join(root, 'libs/contracts/src/generated');
      const list = (dir: string): string[] =>
        fs
          .readdirSync(dir, { recursive: true, withFileTypes: true })
          .filter((d) => d.isFile())
          .map((d) => path.relative(dir, path.join(d.parentPath, d.name)))
          .sort();
      expect(list(out)).toEqual(list(committed));
      for (const file of list(out)) {
        expect({ file, text: fs.readFileSync(path.join(committed, file), 'utf8') }).toEqual({
          file,
          text: fs.readFileSync(path.join(out, file), 'utf8'),
        });
      }
    } finally {
      fs.rmSync(out, { recursive: true, force: true });
    }
  });
});
