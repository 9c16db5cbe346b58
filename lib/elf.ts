// The one thing DoSH reads of an ELF executable: its program interpreter (PT_INTERP, the dynamic loader the kernel
// runs it with), so that the toolbox (controller/toolbox.ts) can carry that loader and run the program through it.

export class ElfError extends Error {
  override name = 'ElfError';
}

const PT_INTERP = 3;

/**
 * The interpreter path of an ELF executable, or undefined when it has none (a static program). Throws ElfError when
 * the bytes are not an ELF file it can read. 32- and 64-bit, either byte order.
 */
export function elfInterpreter(b: Buffer): string | undefined {
  if (b.length < 52 || b.readUInt32BE(0) !== 0x7f454c46) throw new ElfError('not an ELF file');
  const is64 = b[4] === 2;
  if (!is64 && b[4] !== 1) throw new ElfError(`unknown ELF class ${b[4]}`);
  if (b[5] !== 1 && b[5] !== 2) throw new ElfError(`unknown ELF byte order ${b[5]}`);
  const le = b[5] === 1;
  const u16 = (o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const addr = (o: number) => (is64 ? Number(le ? b.readBigUInt64LE(o) : b.readBigUInt64BE(o)) : u32(o));
  const need = (end: number) => {
    if (end > b.length || !Number.isSafeInteger(end)) throw new ElfError('truncated ELF file');
  };
  need(is64 ? 64 : 52);
  const phoff = addr(is64 ? 0x20 : 0x1c);
  const phentsize = u16(is64 ? 0x36 : 0x2a);
  const phnum = u16(is64 ? 0x38 : 0x2c);
  if (phentsize < (is64 ? 56 : 32)) throw new ElfError(`program headers of ${phentsize} bytes`);
  for (let i = 0; i < phnum; i++) {
    const ph = phoff + i * phentsize;
    need(ph + phentsize);
    if (u32(ph) !== PT_INTERP) continue;
    const off = addr(is64 ? ph + 8 : ph + 4);
    const size = addr(is64 ? ph + 32 : ph + 16);
    need(off + size);
    const text = b.subarray(off, off + size).toString('latin1');
    const nul = text.indexOf('\0');
    const interp = nul < 0 ? text : text.slice(0, nul);
    if (!interp.startsWith('/')) throw new ElfError(`interpreter ${JSON.stringify(interp)} is not an absolute path`);
    return interp;
  }
  return undefined;
}
