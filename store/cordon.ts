// Cordon state lives in the store root so doshctl can set it while doshd runs, and it survives a doshd restart.
import * as fs from 'node:fs';
import { cordonFile, readJsonFile, writeJsonFileAtomic } from './layout.ts';

export interface CordonRecord {
  message: string;
  since: string;
}

/** The cordon doshd checks at each admission (its `Cordon` port) and doshctl cordon/uncordon/drain set. */
export class FileCordon {
  constructor(private readonly root: string) {}

  message(): string | undefined {
    return readJsonFile<CordonRecord>(cordonFile(this.root))?.message;
  }

  set(message: string, since: string): void {
    writeJsonFileAtomic(cordonFile(this.root), { message, since } satisfies CordonRecord);
  }

  clear(): void {
    fs.rmSync(cordonFile(this.root), { force: true });
  }
}
