// Cordon state lives in the store root so doshctl can set it while doshd runs, and it survives a doshd restart.
import * as fs from 'node:fs';
import type { Cordon } from './controller.ts';
import { cordonFile, readJsonFile, writeJsonFileAtomic } from '../store/layout.ts';

export interface CordonRecord {
  message: string;
  since: string;
}

export class FileCordon implements Cordon {
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
