/** The table format module (runtime/table/format.ts): framing, the hash function, strategy codes. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  FORMAT_VERSION,
  HEADER_SIZE,
  STRATEGY_CODES,
  SectionId,
  TableFormatError,
  decodeSections,
  encodeTable,
  fnv1a,
  fnv1aString,
  hashSlotCount,
} from '../../../runtime/table/format.js';
import { STRATEGIES } from '../../../runtime/table/strategies/index.js';

const allSections = (): { id: SectionId; bytes: Uint8Array }[] =>
  Object.values(SectionId).map((id) => ({ id, bytes: Uint8Array.from({ length: id * 3 }, (_, i) => (i * 7 + id) & 0xff) }));

describe('table format', () => {
  it('encodeTable frames sections 8-byte aligned; decodeSections returns them unchanged', () => {
    const sections = allSections();
    const bytes = encodeTable(3, [...sections].reverse());
    const { header, sections: got } = decodeSections(bytes);
    expect(header).toMatchObject({ version: FORMAT_VERSION, flags: 3, totalLength: bytes.length });
    for (const s of sections) {
      const view = got.get(s.id)!;
      expect(view.byteOffset % 8).toBe(0);
      expect(Array.from(view)).toEqual(Array.from(s.bytes));
    }
  });

  it('decodeSections rejects a missing section and a changed byte', () => {
    expect(() => decodeSections(encodeTable(0, allSections().slice(1)))).toThrow(/section 1 missing/);
    const bytes = encodeTable(0, allSections());
    bytes[HEADER_SIZE + 40] ^= 0x10;
    expect(() => decodeSections(bytes)).toThrow(TableFormatError);
  });

  it('strategy codes come from the strategy registry', () => {
    expect(STRATEGY_CODES).toEqual(STRATEGIES.map((s) => s.name));
  });

  it('hash slots: a power of two ≥ 2·n, at least 8', () => {
    expect([0, 3, 4, 5, 100].map(hashSlotCount)).toEqual([8, 8, 8, 16, 256]);
  });

  it('fnv1aString agrees with fnv1a over UTF-8 bytes', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (s) => {
        const b = Buffer.from(s, 'utf8');
        expect(fnv1aString(s)).toBe(fnv1a(b, 0, b.length));
      }),
    );
  });
});
